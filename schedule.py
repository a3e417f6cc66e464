"""
Learning-rate schedules: the peak learning rate times a factor of the step.

- cosine (Barkeshli et al. 2026, as Chinchilla and nanoGPT): linear warmup over `warmup` of the steps, then
  cosine decay to zero at the last step.
- wsd, warmup-stable-decay (Hägele et al. 2024, "Scaling Laws and Compute-Optimal Training Beyond Fixed
  Training Durations"): linear warmup, the constant peak, then a cooldown over the last `cooldown` fraction
  of the steps to zero. The cooldown is 1 - sqrt(progress): Hägele et al. (their Fig. 4 and Sec. 3) find it
  beats a linear cooldown of the same length, and it spends longer near the peak, where the loss still falls.
  The warmup of a wsd run lasts `warmup_tokens` (default WSD_WARMUP_TOKENS), a length that does not depend on
  the run's total length, so
  that runs which differ only in tokens follow one schedule up to their cooldowns: a sweep trains their
  shared stable phase once and branches each cooldown from it (train.py), and each branch is exactly the
  run its budget gives alone.

Steps are optimizer steps of batch_size x block_size tokens; `cfg` is a train.RunConfig.
"""
import math

SCHEDULES = ("cosine", "wsd")
WSD_WARMUP_TOKENS = 40_000  # a wsd run's warmup unless --warmup-tokens says: the default run's (2% of 2M tokens)


def warmup_tokens(cfg):
    """Tokens of linear warmup fixed in advance: warmup_tokens if given, WSD_WARMUP_TOKENS for a wsd run
    (whose warmup must not depend on its length), else 0 (a cosine run warms up over `warmup` of its steps)."""
    return cfg.warmup_tokens or (WSD_WARMUP_TOKENS if cfg.schedule == "wsd" else 0)


def warmup_steps(cfg):
    """Steps of linear warmup: warmup_tokens(cfg)' worth if any, else `warmup` of the run's steps (at least 1)."""
    if warmup_tokens(cfg):
        return max(1, math.ceil(warmup_tokens(cfg) / (cfg.batch_size * cfg.block_size)))
    return max(1, round(cfg.warmup * cfg.steps))


def cooldown_start(cfg):
    """The first step of a wsd run's cooldown (its last round(cooldown x steps) steps); the end for cosine."""
    return cfg.steps - round(cfg.cooldown * cfg.steps) if cfg.schedule == "wsd" else cfg.steps


def check(cfg):
    """A wsd run's warmup (warmup_tokens) ends before its cooldown: a ValueError if not."""
    if cfg.schedule != "wsd":
        return
    if warmup_steps(cfg) > cooldown_start(cfg):
        raise ValueError(f"a warmup of {warmup_tokens(cfg)} tokens (--warmup-tokens) runs into the cooldown of a "
                         f"{cfg.tokens}-token wsd run (cooldown from step {cooldown_start(cfg)} of {cfg.steps})")


def lr_at(step, cfg):
    """The learning rate of optimizer step `step` (0-based)."""
    warmup = warmup_steps(cfg)
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    if cfg.schedule == "wsd":
        start = cooldown_start(cfg)
        if step < start:
            return cfg.lr
        return cfg.lr * (1.0 - math.sqrt((step - start) / (cfg.steps - start)))
    progress = (step - warmup) / max(1, cfg.steps - warmup)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
