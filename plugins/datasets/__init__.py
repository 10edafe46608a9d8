"""Built-in datasets: every public module here defines datasets found by
``components_in_package`` and registered like a third-party plugin's."""

from recsec.discovery import components_in_package
from recsec.hookspecs import hookimpl
from recsec.dataset import Dataset


@hookimpl
def recsec_register_datasets(registry) -> None:
    for component in components_in_package(__name__, Dataset):
        registry.add_dataset(component)
