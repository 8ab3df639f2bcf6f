"""Acceptance 5: fs-verity digests against fsverity-utils (`fsverity
digest`): every fsVerityData entry, the rootfs annotation, and the
manifest digest `build` prints (the trust anchor for mount --digest)."""
import json

import pytest

import ocidir

pytestmark = pytest.mark.core


@pytest.mark.parametrize("opts", [(), ("-c",)], ids=["plain", "zstd"])
def test_verity_digests(pfs, corner_tree, tmp_path, opts):
    oci = ocidir.Oci(tmp_path / "oci")
    printed = pfs.build(corner_tree, f"{oci.path}:t", *opts)
    assert [printed] == ocidir.fsverity_digest(
        oci.blob_path(oci.manifest_digest("t")))
    rootfs = oci.rootfs_layer("t")
    assert [rootfs["annotations"][ocidir.VERITY]] == ocidir.fsverity_digest(
        oci.blob_path(rootfs["digest"][7:]))
    verity = json.loads(pfs.run("dump", f"{oci.path}:t").stdout)["fsVerityData"]
    digests = [v["digest"] for v in verity]
    # One entry per chunk blob, computed over the bytes stored (with -c,
    # incompressible chunks are stored raw: the reference gets those wrong).
    assert sorted(digests) == sorted(l["digest"][7:]
                                     for l in oci.chunk_layers("t"))
    assert [v["verity"] for v in verity] == ocidir.fsverity_digest(
        *[oci.blob_path(d) for d in digests])
    pfs.run("fsck", oci.path)


def test_verity_vectors(pfs, tmp_path):
    """Spec §9.3: `meshuggah rocks` and the empty file."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "m").write_bytes(b"meshuggah rocks")
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(src, f"{oci.path}:t")
    verity = json.loads(pfs.run("dump", f"{oci.path}:t").stdout)["fsVerityData"]
    assert verity == [{
        "digest": "3abd5ce0f91f640d88dca1f26b37037b02415927cacec9626d87668a715ec12d",
        "verity": "1a194a268a7afc10cea811e499e1dcb3e55db4b386dea180c62fa4f7e9590b57"}]
    # The empty config blob skopeo needs is stored.
    assert oci.blob("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f6"
                    "1caaff8a") == b"{}"
