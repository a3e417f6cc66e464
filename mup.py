"""
Parametrizations of model.GPT. This first version holds standard parametrization (SP) only:
train.py calls apply() once after building the model and param_groups() to build AdamW.
"""


def apply(model, param="sp", base_width=64):
    """Set the model's initialisation and multipliers for a parametrization (SP: model.py's defaults)."""
    if param != "sp":
        raise ValueError(f"unknown parametrization {param!r} (this version knows 'sp')")
    return model


def param_groups(model, lr, weight_decay, param="sp", base_width=64, embed_lr_mult=1.0):
    """AdamW parameter groups: weight decay on matrices only (dim >= 2), none on LayerNorm gains and
    biases. Each group carries 'lr_mult', the factor train.py applies to the scheduled learning rate."""
    if param != "sp":
        raise ValueError(f"unknown parametrization {param!r} (this version knows 'sp')")
    params = [p for p in model.parameters() if p.requires_grad]
    return [dict(params=[p for p in params if p.dim() >= 2], weight_decay=weight_decay, lr=lr, lr_mult=1.0),
            dict(params=[p for p in params if p.dim() < 2], weight_decay=0.0, lr=lr, lr_mult=1.0)]
