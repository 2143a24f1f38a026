"""Validation during and after training: the figures the issue's acceptance names.

- voxel semantic accuracy over annotated voxels of the benchmark classes;
- the occupancy relative error R_c (paper eq. 11) of every ground-truth instance and the
  fraction of instances with R_c < 0.3 (paper Fig. 4: 68% on ScanNet);
- the mean of every loss term.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from occuseg_core.classes import IGNORE_INDEX, ClassTable
from occuseg_core.config import LossWeights
from occuseg_core.data.collate import collate
from occuseg_core.eval.occupancy import occupancy_relative_errors
from occuseg_core.losses import InstanceTargets, occuseg_losses
from occuseg_core.model import OccuSegNet


def batch_targets(batch) -> InstanceTargets:
    """Loss targets of a collated training batch."""
    return InstanceTargets.from_labels(
        positions_m=batch.positions_m,
        voxel_scene=batch.voxel_scene,
        scene_instance_ids=batch.instance_ids,
        semantic_target=batch.semantic_target,
    )


@torch.no_grad()
def validate(
    model: OccuSegNet,
    grids,
    classes: ClassTable,
    device: torch.device,
    loss_weights: LossWeights | None = None,
    features: tuple[str, ...] = ("rgb",),
) -> dict[str, float]:
    """Runs the model on labelled voxel grids, one scene at a time, in eval mode.

    Args:
        model: the network (its train/eval mode is restored afterwards).
        grids: a sequence of labelled `VoxelGrid`s (e.g. a non-augmented `VoxelizedScenes`).
        classes: class table of the model.
        device: where to run.
        loss_weights: weights for the reported total loss (default all 1).
        features: the model's input features (`DataConfig.input_features`).

    Returns:
        {"val_semantic_accuracy", "val_occupancy_within_0.3", "val_occupancy_median_error",
         "val_instances", "val_<loss name>"...}; NaN where nothing was measurable.
    """
    was_training = model.training
    model.eval()
    correct = total = 0
    errors, loss_sums = [], defaultdict(float)
    weights = vars(loss_weights or LossWeights())
    for index in range(len(grids)):
        batch = collate([grids[index]], classes, features).to(device)
        outputs = model(batch)
        losses = occuseg_losses(outputs, batch_targets(batch), weights=weights)
        for name, value in losses.items():
            loss_sums[name] += float(value)
        valid = batch.semantic_target != IGNORE_INDEX
        predicted = outputs.semantic_logits.argmax(dim=1)
        correct += int((predicted[valid] == batch.semantic_target[valid]).sum())
        total += int(valid.sum())
        instance = batch.instance_ids.cpu().numpy()
        errors.append(
            occupancy_relative_errors(np.where(instance > 0, instance, -1),
                                      outputs.log_occupancy.float().cpu().numpy())
        )  # fmt: skip
    model.train(was_training)
    errors = np.concatenate(errors) if errors else np.empty(0)
    count = max(len(grids), 1)
    metrics = {f"val_{name}": total_loss / count for name, total_loss in loss_sums.items()}
    metrics.update(
        val_semantic_accuracy=correct / total if total else float("nan"),
        val_occupancy_within_0_3=float(np.mean(errors < 0.3)) if errors.size else float("nan"),
        val_occupancy_median_error=float(np.median(errors)) if errors.size else float("nan"),
        val_instances=float(errors.size),
    )
    return metrics
