"""Scripted traders, trained-policy loading, and the one Policy protocol they all follow."""
