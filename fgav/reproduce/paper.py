"""The paper's own numbers (its Tab. 1-7), printed beside ours in the reproduction report.

All are ResNet-18 on CelebA-Spoof unless a table names backbones. Tab. 5's accuracies
equal one minus Tab. 4's ASR with SFA (and Tab. 7's diagonal with SFA), so Tab. 5 is
read as "with SFA"; its attribute cell (0.5799 against 1 - 0.6201) is the one exception.
"""

from __future__ import annotations

BACKBONES = ("vgg13", "resnet18", "densenet121", "swin")
PARTS = ("attribute", "spoof_type", "illumination", "depth", "reflection", "classification")

# Tab. 1: ASR without / with SFA. The paper's epsilons did not survive its text; the
# rows are in its order, with our budgets for them in fgav.reproduce.experiments.
TAB1 = {
    "None": (0.0002, 0.7129),
    "FGSM (1)": (0.6578, 0.9046), "FGSM (2)": (0.6899, 0.9120), "FGSM (3)": (0.6983, 0.9161),
    "C&W (1)": (0.6925, 0.8812), "C&W (2)": (0.7239, 0.9122), "C&W (3)": (0.8039, 0.9258),
    "Spatial": (0.4786, 0.9443), "PGD": (0.7045, 0.9471), "Sparse": (0.1261, 0.7832),
}  # fmt: skip

# Tab. 2: FGSM ASR with each data augmentation and CAM, and SFA.
TAB2 = {
    "none": 0.6578, "vflip": 0.7313, "hflip": 0.7063, "rotate30": 0.7563, "brightness": 0.6938,
    "hue": 0.7250, "ensemble": 0.8152, "gradcam": 0.7375, "gradcam++": 0.7625, "scorecam": 0.2875,
    "ablationcam": 0.7375, "eigencam": 0.8000, "layercam": 0.7625, "sfa": 0.9046,
}  # fmt: skip

# Tab. 3: ASR with SFA, without / with its LBP texture filter.
TAB3 = {"FGSM": (0.7121, 0.9120), "C&W": (0.8403, 0.9122), "Spatial": (0.8001, 0.9443),
        "PGD": (0.8832, 0.9471), "Sparse": (0.6755, 0.7832)}

# Tab. 4: FGSM ASR when each part is attacked, without / with SFA.
TAB4 = {"attribute": (0.6341, 0.6201), "spoof_type": (0.6455, 0.7559), "illumination": (0.6475, 0.7679),
        "depth": (0.0041, 0.6694), "reflection": (0.0001, 0.6657), "classification": (0.6578, 0.9046)}

# Tab. 5: live/spoof accuracy of each backbone when each part is attacked (FGSM, SFA).
TAB5_CLEAN = {"vgg13": 0.9416, "resnet18": 0.9988, "densenet121": 0.9971, "swin": 0.9989}
TAB5 = {
    "attribute": (0.7849, 0.5799, 0.6598, 0.4623), "spoof_type": (0.3462, 0.2441, 0.3838, 0.1684),
    "illumination": (0.2736, 0.2321, 0.2999, 0.2965), "depth": (0.4483, 0.3306, 0.3686, 0.3302),
    "reflection": (0.6484, 0.3343, 0.3304, 0.3408), "classification": (0.2876, 0.0954, 0.2744, 0.0962),
}  # fmt: skip

# Tab. 6: change of each part when the live/spoof decision is attacked (FGSM).
TAB6 = {"attribute": (0.39, 0.20, 0.07, 0.20), "spoof_type": (0.70, 2.40, 0.03, 0.20),
        "illumination": (12.80, 6.60, 0.70, 8.40), "depth": (4.21, 0.10, 0.04, 0.00),
        "reflection": (2.30, 13.60, 1.80, 0.40)}

# Tab. 7: live/spoof accuracy of each target (columns: without / with SFA) on examples
# crafted on each source (rows).
TAB7 = {
    "vgg13": ((0.6121, 0.2876), (0.7863, 0.1161), (0.81008, 0.3738), (0.2679, 0.2001)),
    "resnet18": ((0.4212, 0.1190), (0.3101, 0.0954), (0.3245, 0.1394), (0.4016, 0.1297)),
    "densenet121": ((0.4521, 0.2289), (0.5025, 0.1062), (0.5763, 0.2744), (0.5538, 0.2840)),
    "swin": ((0.3192, 0.1224), (0.2989, 0.1018), (0.2296, 0.0904), (0.1977, 0.0962)),
}  # fmt: skip
