"""A trained RLlib policy as a Policy: the RLModule alone, loaded from a checkpoint, no cluster needed.

RLlib checkpoints hold pickle files, and loading one runs code from it: load only checkpoints you
made or trust. ``load_policy`` reads exactly the path it is given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from market.errors import ConfigError

_MODULES_DIR = Path("learner_group") / "learner" / "rl_module"


def module_dir(path: str | Path, module: str | None = None) -> Path:
    """The RLModule folder inside an algorithm checkpoint (or ``path`` itself if it is one).

    Args:
        path: an algorithm checkpoint (from ``market train``) or an RLModule checkpoint folder.
        module: which module of a multi-module checkpoint; needed only when there are several.

    Raises:
        ConfigError: when the path is missing, is not a checkpoint, or the module is ambiguous or absent.
    """
    root = Path(path)
    if not root.exists():
        raise ConfigError(f"checkpoint {root}: not found")
    if (root / "class_and_ctor_args.pkl").is_file() and not (root / _MODULES_DIR).exists():
        return root
    modules_root = root / _MODULES_DIR
    if not modules_root.is_dir():
        raise ConfigError(f"checkpoint {root}: not an RLlib checkpoint (no {_MODULES_DIR})")
    modules = sorted(p.name for p in modules_root.iterdir() if p.is_dir())
    if module is None:
        if len(modules) != 1:
            raise ConfigError(f"checkpoint {root}: holds modules {modules}; name one")
        module = modules[0]
    if module not in modules:
        raise ConfigError(f"checkpoint {root}: has no module {module!r} (it holds {modules})")
    return modules_root / module


class TrainedPolicy:
    """An RLModule acting deterministically (the mode of its action distribution), or sampling from it.

    Build one with :func:`load_policy` from a checkpoint, or around a live module during training. With
    ``explore=True`` each action is drawn from the module's exploration distribution (the Gaussian or
    categorical policy PPO and SAC train), using the ``rng`` given to :meth:`act`, so a seeded episode
    repeats exactly.

    Attributes:
        observation_space, action_space: the spaces the module was trained on.
    """

    def __init__(self, module: object, path: Path | None = None, *, explore: bool = False) -> None:
        import torch

        torch.set_num_threads(1)
        self._module = module
        self._module.eval()  # type: ignore[attr-defined]
        self.explore = explore
        get_dist = module.get_exploration_action_dist_cls if explore else module.get_inference_action_dist_cls  # type: ignore[attr-defined]
        self._dist = get_dist()
        self._torch = torch
        self.path = path
        self.observation_space = self._module.observation_space  # type: ignore[attr-defined]
        self.action_space = self._module.action_space  # type: ignore[attr-defined]

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray | int:
        """The action for one observation, within the action space: the mode, or a draw with ``rng``."""
        from ray.rllib.core.columns import Columns

        batch = {Columns.OBS: self._torch.as_tensor(np.asarray(obs, dtype=np.float32)[None])}
        with self._torch.no_grad():
            out = self._module.forward_inference(batch)
        dist = self._dist.from_logits(out[Columns.ACTION_DIST_INPUTS])
        action = self._draw(dist, rng) if self.explore else dist.to_deterministic().sample()[0].numpy()
        space = self.action_space
        if hasattr(space, "n"):
            return int(action)
        return np.clip(action, space.low, space.high).astype(space.dtype)

    def _draw(self, dist: object, rng: np.random.Generator) -> np.ndarray:
        """One sample of RLlib's diagonal Gaussian or categorical distribution, drawn with numpy's ``rng``."""
        torch_dist = dist._dist  # type: ignore[attr-defined]
        if isinstance(torch_dist, self._torch.distributions.Normal):
            loc, scale = torch_dist.loc[0].numpy(), torch_dist.scale[0].numpy()
            return (loc + scale * rng.standard_normal(loc.shape)).astype(np.float32)
        if isinstance(torch_dist, self._torch.distributions.Categorical):
            probs = torch_dist.probs[0].numpy().astype(np.float64)
            return np.asarray(rng.choice(len(probs), p=probs / probs.sum()))
        raise ConfigError(f"checkpoint {self.path}: cannot sample a {type(dist).__name__} action distribution; use explore=false")

    def check_compatible(self, observation_space, action_space, where: str) -> None:
        """Refuse an env whose spaces differ from the ones the module was trained on.

        Raises:
            ConfigError: naming the checkpoint and both shapes.
        """
        if self.observation_space.shape != observation_space.shape or type(self.action_space) is not type(action_space) or getattr(self.action_space, "shape", None) != getattr(action_space, "shape", None):
            raise ConfigError(
                f"checkpoint {self.path}: trained on observations {self.observation_space.shape} and actions "
                f"{self.action_space}, but {where} has {observation_space.shape} and {action_space}"
            )


def load_policy(path: str | Path, module: str | None = None, *, explore: bool = False) -> TrainedPolicy:
    """Load a checkpoint's RLModule as a Policy (see :class:`TrainedPolicy`), acting on its mode or sampling.

    Raises:
        ConfigError: when the checkpoint is missing, foreign or damaged, in one line naming it.
    """
    from ray.rllib.core.rl_module.rl_module import RLModule

    folder = module_dir(path, module).resolve()  # RLlib reads a relative path as a URI
    try:
        loaded = RLModule.from_checkpoint(folder)
    except Exception as error:  # a damaged or foreign checkpoint: say which, in one line
        raise ConfigError(f"checkpoint {folder}: could not be loaded ({type(error).__name__}: {error})") from None
    return TrainedPolicy(loaded, folder, explore=explore)
