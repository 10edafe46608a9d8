"""Built-in datasets, registered through the ``recsec`` entry point like a third-party plugin's.

``DATASETS`` lists them explicitly: a new dataset module adds its classes there.
"""

from recsec.hookspecs import hookimpl

from .amazon import AmazonBeauty, AmazonBeautyBERT4Rec
from .movielens import MovieLens1M, MovieLens20M, MovieLens100K, MovieLensLatestSmall
from .steam import Steam
from .synthetic import Synthetic

#: Every built-in dataset, in registration order.
DATASETS = (AmazonBeauty, AmazonBeautyBERT4Rec, MovieLens100K, MovieLens1M, MovieLens20M, MovieLensLatestSmall, Steam, Synthetic)


@hookimpl
def recsec_register_datasets(registry) -> None:
    for component in DATASETS:
        registry.add_dataset(component)
