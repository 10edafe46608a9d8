"""GRO's constants, shared by the defense (``gro``) and its training code (``_gro``, ``_gro_train``).

Apart from ``gro`` so that the training code never imports the module that
imports it (no import cycle). No torch.
"""

from __future__ import annotations

#: Labels of the student's init seed. The reference code (train_gro.py) seeds once and draws the
#: student first, so its DFME surrogate, drawn first under the same seed, starts from the
#: student's weights: the init seed GRO's training report hands a ``surrogate_init = "reference"`` attacker.
STUDENT_SEED = ("gro", "student")

#: What a swap row with a zero gradient does: ``mask`` (recsec: it carries no signal, so it adds
#: nothing to L_swap) or ``first_item`` (the reference code: ``grad.max(-1)`` of an all-zero
#: row returns column 0, the first item id, so the row pushes that item above c_bi).
ZERO_ROWS = ("mask", "first_item")
