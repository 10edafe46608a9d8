"""Building blocks of sequential recommenders, public for built-in and third-party plugins alike.

The recommenders (``recsec.plugins.recommenders``), the extraction attacks,
profile pollution, GRO and SAME all build on these modules; a third party's
sequential recommender does too, and then serves as a surrogate or a
few-shot sampler like a built-in one. One job per module:

- ``params``: the parameters every sequential model shares (reference configuration).
- ``base``: ``SequentialRecommender``, the Recommender over a ``SeqNet`` (no torch on import).
- ``windows``: training windows and the token layouts (left-padded, right-aligned).
- ``sampling``: seeded negative items outside a user's training items.
- ``net``: the ``SeqNet`` interface: training loss, serving, prefix scoring.
- ``transformer``: SASRec and BERT4Rec networks.
- ``recurrent``: NARM and GRU4Rec networks.
- ``trainer``: the training loop shared by every ``SeqNet``.
- ``resume``: resumable training state and the stopping rules it replays.
- ``losses``: DFME's ranking loss, the repair loss, and the negatives they compare against.
- ``architectures``: recommender names given as parameters, resolved through the plugin registry.

Importing this package imports no torch (the modules that need it import it themselves).
"""
