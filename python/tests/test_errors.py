"""Bad input raises annforge's error types (subclasses of ValueError / OSError / RuntimeError)
or TypeError / ValueError for arrays, each with a message that says what is wrong."""
import numpy as np
import pytest

import annforge
from conftest import clustered


def test_error_types_are_builtin_subclasses():
    assert issubclass(annforge.InvalidArgumentError, ValueError)
    assert issubclass(annforge.FormatError, ValueError)
    assert issubclass(annforge.FileError, OSError)
    assert issubclass(annforge.NoDeviceError, RuntimeError)
    for t in (annforge.InvalidArgumentError, annforge.FileError, annforge.FormatError, annforge.UnsupportedError,
              annforge.NoDeviceError, annforge.InternalError):
        assert issubclass(t, annforge.Error)


def test_bad_arrays():
    base = clustered(1000, 8)
    with pytest.raises(ValueError, match="contiguous rows"):
        annforge.build(base[:, ::2])
    with pytest.raises(ValueError, match="contiguous rows"):
        annforge.build(np.asfortranarray(base))
    with pytest.raises(ValueError, match="2-D"):
        annforge.build(base[0])
    with pytest.raises(TypeError, match="int32"):
        annforge.build(base.astype(np.int32))
    with pytest.raises(ValueError, match="empty"):
        annforge.build(np.zeros((0, 8), np.float32))
    with pytest.raises(ValueError, match="outside float32"):
        annforge.build(np.full((10, 4), 1e300))


def test_nan_names_row_and_column():
    base = clustered(1000, 8)
    base[17, 3] = np.nan
    with pytest.raises(annforge.InvalidArgumentError, match="row 17"):
        annforge.build(base, progress=False)


def test_bad_arguments():
    base = clustered(1000, 8)
    with pytest.raises(annforge.InvalidArgumentError, match="hamming"):
        annforge.build(base, metric="hamming")
    with pytest.raises(annforge.InvalidArgumentError, match="quantum"):
        annforge.build(base, device="quantum")
    index = annforge.build(base, graph_degree=8, progress=False)
    with pytest.raises(annforge.InvalidArgumentError):
        index.search(clustered(5, 9), k=10)  # wrong dimension
    with pytest.raises(ValueError, match="k"):
        index.search(base[:5], k=0)
    with pytest.raises(annforge.InvalidArgumentError, match="nmslib"):
        index.export("/tmp/x.bin", format="nmslib")
    with pytest.raises(annforge.InvalidArgumentError, match="thin"):
        index.export("/tmp/x.bin", links="thin")


def test_files(tmp_path):
    with pytest.raises(annforge.FileError, match="missing.afi"):
        annforge.load(str(tmp_path / "missing.afi"))
    (tmp_path / "junk.afi").write_bytes(b"not an index" * 10)
    with pytest.raises(annforge.FormatError, match="junk.afi"):
        annforge.load(str(tmp_path / "junk.afi"))
    index = annforge.build(clustered(500, 8), graph_degree=8, progress=False)
    with pytest.raises(annforge.FileError, match="no/such/dir"):
        index.save(str(tmp_path / "no/such/dir/index.afi"))


def test_gpu_without_one():
    if annforge.system_info()["gpu_available"]:
        pytest.skip("this machine has a usable GPU")
    with pytest.raises(annforge.NoDeviceError):
        annforge.build(clustered(500, 8), device="gpu")
