"""A split of a dataset as a method sees it outside `train_step` (graphs, ITQ, B updates)."""

from tfhash.data.pipeline import make_pipeline
from tfhash.errors import require


class SplitView:
    """Read access to one split of a `PairedDataset`, in split order.

    Positions are 0..size-1 inside the split (the ``index`` field of the
    training batches).
    """

    def __init__(self, dataset, split, *, text_field="bow", with_labels=False):
        self.dataset = dataset
        self.split = split
        self.text_field = text_field
        self.with_labels = with_labels
        self.rows = dataset.split(split)
        self.size = int(self.rows.size)

    def _rows(self, positions):
        return self.rows if positions is None else self.rows[positions]

    def images(self, positions=None):
        """Image inputs (all, or at `positions`) as a NumPy array."""
        return self.dataset.read("images", self._rows(positions))

    def texts(self, positions=None):
        """Text inputs (bag-of-words or tokens, as the method asked)."""
        return self.dataset.read(self.text_field, self._rows(positions))

    def labels(self, positions=None):
        """Labels (multi-hot); TfhashError for the unlabelled pool, whose labels no method may read."""
        return self.dataset.read("labels", self._rows(positions))

    def rows_of(self, field):
        """Split `field` ("images" or "texts") as a read-only `SplitArray`: rows are read when sliced.

        For statistics over a whole split (`column_stats`) without holding it
        in memory: at NUS-WIDE size the training features alone are gigabytes.
        """
        return SplitArray(self.dataset, self.text_field if field == "texts" else field, self.rows)

    def ids(self, positions=None):
        return self.dataset.ids(self._rows(positions))

    def batches(self, batch_size=256):
        """One pass in split order, as a tf.data pipeline of dict batches."""
        ds, _ = make_pipeline(self.dataset, self.split, batch_size=batch_size, text_field=self.text_field,
                              with_labels=self.with_labels and self.dataset.has_labels)
        return ds


class SplitArray:
    """One field of a split as an (N, ...) array-like: `shape`, `dtype`, `len`, and row slices read on demand."""

    def __init__(self, dataset, field, rows):
        self.dataset, self.field, self.rows = dataset, field, rows
        stored = dataset.array(field)
        self.shape = (int(rows.size),) + tuple(stored.shape[1:])
        self.dtype = stored.dtype
        self.ndim = len(self.shape)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        require(isinstance(key, slice), f"a SplitArray is read by row slices, not {type(key).__name__}")
        return self.dataset.read(self.field, self.rows[key])
