"""Registry of the raw data files: canonical URL, published checksums and mirror location.

Every value here is taken from the ``PROVENANCE.md`` of the matching folder of the offline mirror
(``shared/datasets/<source>/``). A file is addressed as ``<source>/<name>``, the same relative path
in the mirror (optionally stored as ``<name>.gz``), in the cache directory and under a
``base_url`` HTTP mirror (see :mod:`al_bert.data.fetch`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = [
    "LRTC_COMMIT",
    "LRTC_ID_FILES",
    "SOURCES",
    "Archive",
    "RemoteFile",
    "Source",
    "get_file",
    "lrtc_id_file",
]


@dataclass(frozen=True)
class Archive:
    """A downloadable archive (zip / tar.gz) that contains a data file as ``member``."""

    url: str
    filename: str
    member: str
    sha256: str | None = None
    md5: str | None = None


@dataclass(frozen=True)
class RemoteFile:
    """One raw data file: where it lives, how to check it.

    ``sha256`` / ``md5`` / ``git_blob`` are checksums of the *uncompressed* file (any that are given
    are checked). ``url`` is a direct download; otherwise ``archive`` says which member to extract.
    """

    source: str
    name: str
    url: str | None = None
    sha256: str | None = None
    md5: str | None = None
    git_blob: str | None = None
    archive: Archive | None = None
    homepage: str = ""

    @property
    def key(self) -> str:
        return f"{self.source}/{self.name}"

    @property
    def download_url(self) -> str:
        """The URL a user should fetch by hand (direct file, else the archive)."""
        if self.url:
            return self.url
        if self.archive is not None:
            return self.archive.url
        return self.homepage or "(no known URL)"

    def with_url(self, url: str) -> RemoteFile:
        """A copy downloading from ``url`` directly (tests, private mirrors)."""
        return replace(self, url=url, archive=None)

    def expected_checksum(self) -> str:
        """Human-readable expected checksum (for error messages)."""
        if self.sha256:
            return f"sha256 {self.sha256}"
        if self.md5:
            return f"md5 {self.md5}"
        if self.git_blob:
            return f"git blob {self.git_blob}"
        return "(no published checksum)"


@dataclass(frozen=True)
class Source:
    """A raw dataset as published by its authors: its files and a short description."""

    name: str
    title: str
    files: dict[str, RemoteFile]
    homepage: str = ""


def _files(*files: RemoteFile) -> dict[str, RemoteFile]:
    return {f.name: f for f in files}


_CORNELL = "https://www.cs.cornell.edu/people/pabo/movie-review-data"
_RT_TAR = Archive(f"{_CORNELL}/rt-polaritydata.tar.gz", "rt-polaritydata.tar.gz", "")
# subjectivity: the mirror holds NLTK's UTF-8 copy of quote.tok.gt9.5000 (subjectivity/PROVENANCE.md),
# so the canonical download with matching checksums is NLTK's zip, not rotten_imdb.tar.gz.
_NLTK_SUBJ = Archive(
    "https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/subjectivity.zip",
    "subjectivity.zip",
    "",
)
_COLA_ZIP = Archive(
    "https://nyu-mll.github.io/CoLA/cola_public_1.1.zip",
    "cola_public_1.1.zip",
    "",
    sha256="2cf856f46df11c143d38e0cf2f9f34ff2fdb088c521cd859f5c4b9581683278b",
)
_GLUE_SST2 = Archive("https://dl.fbaipublicfiles.com/glue/data/SST-2.zip", "SST-2.zip", "")
_WIKI_ZIP = Archive(
    "https://ndownloader.figshare.com/articles/4054689/versions/6", "wiki_attack_v6.zip", ""
)
_DBPEDIA_TAR = Archive(
    "https://drive.usercontent.google.com/download?id=0Bz8a_Dbh9QhbQ2Vic1kxMmZZQ1k"
    "&export=download&confirm=t",
    "dbpedia_csv.tar.gz",
    "",
    md5="dca7b1ae12b1091090db52aa7ec5ca64",
)
_AG_RAW = (
    "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/"
    "555590db4219b1243abb1918effd6a7425a2d75f/data/ag_news_csv"
)
_PUBMED_RAW = (
    "https://raw.githubusercontent.com/Franck-Dernoncourt/pubmed-rct/"
    "17ed2cb0590decfca0266add0c76f254f67232b4/PubMed_20k_RCT"
)
_COGCOMP = "https://cogcomp.seas.upenn.edu/Data/QA/QC"
LRTC_COMMIT = "4380755a65b35265e84ecbf4b87e872d79e8f079"
_LRTC_RAW = (
    "https://raw.githubusercontent.com/IBM/low-resource-text-classification-framework/"
    f"{LRTC_COMMIT}/lrtc_lib/data/ids"
)


def _member(archive: Archive, member: str) -> Archive:
    return replace(archive, member=member)


SOURCES: dict[str, Source] = {
    "rt-polarity": Source(
        "rt-polarity",
        "Sentence polarity v1.0 (Pang & Lee 2005)",
        _files(
            RemoteFile(
                "rt-polarity",
                "rt-polarity.pos",
                sha256="d79ef14009bbf87cd6be21f91c3ea1a3cbcb73b34dfb4231aef7bbcd7677abc4",
                archive=_member(_RT_TAR, "rt-polaritydata/rt-polarity.pos"),
            ),
            RemoteFile(
                "rt-polarity",
                "rt-polarity.neg",
                sha256="4af43bf489620b498a0852c5a8c6a535155dec7985fdfea782b8f7756b957ccc",
                archive=_member(_RT_TAR, "rt-polaritydata/rt-polarity.neg"),
            ),
        ),
        homepage=f"{_CORNELL}/",
    ),
    "subjectivity": Source(
        "subjectivity",
        "Subjectivity v1.0 (Pang & Lee 2004), NLTK copy",
        _files(
            RemoteFile(
                "subjectivity",
                "quote.tok.gt9.5000",
                sha256="cc5d85345896d3fa44ca6b826b108418030977f958a004eb97860043b3b37624",
                archive=_member(_NLTK_SUBJ, "subjectivity/quote.tok.gt9.5000"),
            ),
            RemoteFile(
                "subjectivity",
                "plot.tok.gt9.5000",
                sha256="5ddc9b44dc60d64d651347fcd7bdd489b0c70661e3f768215c16eea36f51204a",
                archive=_member(_NLTK_SUBJ, "subjectivity/plot.tok.gt9.5000"),
            ),
        ),
        homepage=f"{_CORNELL}/rotten_imdb.tar.gz",
    ),
    "trec": Source(
        "trec",
        "TREC question classification (Li & Roth 2002)",
        _files(
            RemoteFile(
                "trec",
                "train_5500.label",
                url=f"{_COGCOMP}/train_5500.label",
                sha256="9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3",
            ),
            RemoteFile(
                "trec",
                "TREC_10.label",
                url=f"{_COGCOMP}/TREC_10.label",
                sha256="033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e",
            ),
        ),
    ),
    "cola": Source(
        "cola",
        "CoLA public 1.1 (Warstadt et al. 2019)",
        _files(
            RemoteFile(
                "cola",
                "cola_public/raw/in_domain_train.tsv",
                sha256="f320a10f92d3bce6b29152fde322a362eac39238e50d8de0c8815457fdf4fc12",
                archive=_member(_COLA_ZIP, "cola_public/raw/in_domain_train.tsv"),
            ),
            RemoteFile(
                "cola",
                "cola_public/raw/in_domain_dev.tsv",
                sha256="77176f6a03faa5a1c4f23c69971fc1bff565931112fb65af47b2d6e24b7f42f7",
                archive=_member(_COLA_ZIP, "cola_public/raw/in_domain_dev.tsv"),
            ),
            RemoteFile(
                "cola",
                "cola_public/raw/out_of_domain_dev.tsv",
                sha256="201b9c57b2a20f1282242eec0ed8995729e3be19c29a46c047b3727338836c05",
                archive=_member(_COLA_ZIP, "cola_public/raw/out_of_domain_dev.tsv"),
            ),
        ),
    ),
    "isear": Source(
        "isear",
        "ISEAR (Scherer & Wallbott 1994), CSV export of the original database",
        _files(
            RemoteFile(
                "isear",
                "isear.csv",
                url="https://raw.githubusercontent.com/sinmaniphel/py_isear_dataset/"
                "948f4cf80161ea28e6dc5bfb4ad729f21ff47723/isear.csv",
                sha256="370110fff70a1e1d9e23b10cf6db1f64876120fa02276afe5916fbfeb038cdca",
            ),
        ),
        homepage="https://www.unige.ch/cisa/index.php/download_file/view/395/296/",
    ),
    "ag_news": Source(
        "ag_news",
        "AG's News (Zhang, Zhao & LeCun 2015)",
        _files(
            RemoteFile(
                "ag_news",
                "train.csv",
                url=f"{_AG_RAW}/train.csv",
                md5="b1a00f826fdfbd249f79597b59e1dc12",
                git_blob="694aa19971315410e000404523796b76349d3c1d",
            ),
            RemoteFile(
                "ag_news",
                "test.csv",
                url=f"{_AG_RAW}/test.csv",
                sha256="521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699",
                md5="d52ea96a97a2d943681189a97654912d",
            ),
        ),
    ),
    "wiki_attack": Source(
        "wiki_attack",
        "Wikipedia Talk Labels: Personal Attacks (Wulczyn et al. 2017)",
        _files(
            RemoteFile(
                "wiki_attack",
                "attack_annotated_comments.tsv",
                archive=_member(_WIKI_ZIP, "attack_annotated_comments.tsv"),
            ),
            RemoteFile(
                "wiki_attack",
                "attack_annotations.tsv",
                archive=_member(_WIKI_ZIP, "attack_annotations.tsv"),
            ),
        ),
        homepage="https://figshare.com/articles/dataset/Wikipedia_Talk_Labels_Personal_Attacks/4054689",
    ),
    "sst2": Source(
        "sst2",
        "GLUE SST-2 (Socher et al. 2013; Wang et al. 2018)",
        _files(
            RemoteFile(
                "sst2",
                "train.tsv",
                sha256="48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1",
                archive=_member(_GLUE_SST2, "SST-2/train.tsv"),
            ),
            RemoteFile(
                "sst2",
                "dev.tsv",
                sha256="54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0",
                archive=_member(_GLUE_SST2, "SST-2/dev.tsv"),
            ),
        ),
    ),
    "pubmed_20k_rct": Source(
        "pubmed_20k_rct",
        "PubMed 20k RCT (Dernoncourt & Lee 2017)",
        _files(
            RemoteFile(
                "pubmed_20k_rct",
                "train.txt",
                url=f"{_PUBMED_RAW}/train.txt",
                git_blob="8f547ea68f9842212d048cf65b2406ccd7b15aec",
            ),
            RemoteFile(
                "pubmed_20k_rct",
                "dev.txt",
                url=f"{_PUBMED_RAW}/dev.txt",
                git_blob="30b4dabf34ef8a47d19363e86f5cb1308222c43d",
            ),
            RemoteFile(
                "pubmed_20k_rct",
                "test.txt",
                url=f"{_PUBMED_RAW}/test.txt",
                git_blob="2ac90c4152acdee850f4399def042831fe8c451f",
            ),
        ),
    ),
    "dbpedia_14": Source(
        "dbpedia_14",
        "DBpedia ontology classification (Zhang, Zhao & LeCun 2015)",
        _files(
            RemoteFile(
                "dbpedia_14", "train.csv", archive=_member(_DBPEDIA_TAR, "dbpedia_csv/train.csv")
            ),
            RemoteFile(
                "dbpedia_14", "test.csv", archive=_member(_DBPEDIA_TAR, "dbpedia_csv/test.csv")
            ),
        ),
    ),
}

# lrtc_ids/PROVENANCE.md, "Files" table: sha256 of the IBM split id files (Ein-Dor et al. 2020).
_LRTC_SHA256: dict[str, str] = {
    "ag_news/dev_ids.csv": "028def2f97cafb95746a9ccb8520e25254a8d0ce1c49fa7a9306c7e67125786e",
    "ag_news/test_ids.csv": "020d3feef82c5b32cdf6557ff16ccffb09e7421901062e6f3572dc2027294247",
    "ag_news/train_ids.csv": "115683dba3fd17441192f3b275a77165a7d60729982363863fbdf72325e6e5f7",
    "ag_news_imbalanced_1/dev_ids.csv": (
        "0455e4018ceaa1770cc2ff787842fcf1280ccf95260c3c733bbfbb1adf032228"
    ),
    "ag_news_imbalanced_1/test_ids.csv": (
        "7ebbf6c3db5345c70e6073ab44dff6050c96540c9fbcf4ba54c78c7e0ef316f3"
    ),
    "ag_news_imbalanced_1/train_ids.csv": (
        "9d54c2386850714b10ca8acdace4e7b57b353890b5b5c8d3c120e27c15110d8f"
    ),
    "cola/dev_ids.csv": "ddf94576ccb079f9c0b26345b90788cc7e449f0025e0e4a8eaee4cd283da9adc",
    "cola/test_ids.csv": "fde08ffe55c08cc599f50b10ebf17af5252470662fa9d376912ea464dc839894",
    "cola/train_ids.csv": "94d51e53eebde75ba8698b9f057b220929e1e2c4ab2fc6d801e4c6dd0c826b5e",
    "isear/dev_ids.csv": "1b09a898d6b84c938a79087375c203e9f8182ac24060b81215734f5e0bd2042e",
    "isear/test_ids.csv": "f9b9f25e391376e9ff86c7c8a5a04f56a048af66539d979b2942ac5134237574",
    "isear/train_ids.csv": "b067b55b83c3e5b56920fcc099a5bd16d865f4956e3091268cec636469976359",
    "polarity/dev_ids.csv": "85bdb5f3113313d437467bb0a82c90944a44fa2db1a149283c2ce9e6dce398be",
    "polarity/test_ids.csv": "c56c3546a2f1e2a371fc10dd88e6cba0c0ee40cc8f6ed54182b1cbb0bfd86aa9",
    "polarity/train_ids.csv": "b2b3619d0c0f6d8dcc01f70db3f32f1b95c9fd737d3c105449b33f2677c84965",
    "polarity_imbalanced_positive/dev_ids.csv": (
        "199eb1801880696f9981c5456ebc23352fd43c9bd2abceaea4349344ecd4c75b"
    ),
    "polarity_imbalanced_positive/test_ids.csv": (
        "b60dc464724d2230d56be17e3c6bd591f12ee1cf35c98cda52a9b800b5c135fe"
    ),
    "polarity_imbalanced_positive/train_ids.csv": (
        "460513d94fbb0da9760ca06656adb4204927ae761ed2b2bf8607d73a0f9eefd9"
    ),
    "subjectivity/dev_ids.csv": "9cffcde309c639a6759e04414ee5edd1cd1ae9c3ad1371b109f9f1011eb4349f",
    "subjectivity/test_ids.csv": "4056b88e23a56de4b1cfa04d7f0fe9dc0a357fd36d9cbb3dbb8a7ddf5327171e",
    "subjectivity/train_ids.csv": "50c55ac4519d990895be5c785a97d2ff0722667d29cd91b52551733a0be1572b",
    "subjectivity_imbalanced_subjective/dev_ids.csv": (
        "dd30e556efaa53b0f91b69d7f16ab00dabe4f6487ffcc35c42b933af9b72491d"
    ),
    "subjectivity_imbalanced_subjective/test_ids.csv": (
        "999edb71c2bdbb26c639057f9d6f772b9a862676713a88af97a5a14756969460"
    ),
    "subjectivity_imbalanced_subjective/train_ids.csv": (
        "228fce29ab6b2eedec70c97f2ab9a221fcb5b21e8f59c521bfec45b633043b38"
    ),
    "trec/dev_ids.csv": "790cabf2e42142053ee99d348b592ae5fc0ddfe4d398f73ffd9d7c22e88d8785",
    "trec/train_ids.csv": "f354b234fc2873795ad08f4482adeb7de55566bbd3f1e87eff72d85655a34789",
    "wiki_attack/dev_ids.csv": "530299e596e0232bc188bb196e3dc1699ede92ffcfcb16b0cdb4bdc4d74ce3cc",
    "wiki_attack/test_ids.csv": "27b6b8b7e10aa112db55bc1b5d0b24b64bddcd1eaed0e198e557bf44ddb4d57b",
    "wiki_attack/train_ids.csv": "660959e11958fc2fe257c08922de2e97be9d07bf2f7fbc31bd3419b26ea56786",
}


LRTC_ID_FILES: tuple[str, ...] = tuple(_LRTC_SHA256)


def lrtc_id_file(folder: str, split: str) -> RemoteFile:
    """The IBM split-id file ``lrtc_ids/<folder>/<split>_ids.csv`` (lrtc_ids/PROVENANCE.md)."""
    name = f"{folder}/{split}_ids.csv"
    if name not in _LRTC_SHA256:
        raise KeyError(f"no lrtc id file {name!r}")
    return RemoteFile("lrtc_ids", name, url=f"{_LRTC_RAW}/{name}", sha256=_LRTC_SHA256[name])


def get_file(source: str, name: str) -> RemoteFile:
    """Look up a registered file, with an error listing the valid names."""
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; valid: {', '.join(SOURCES)}")
    files = SOURCES[source].files
    if name not in files:
        raise ValueError(f"unknown file {name!r} of source {source}; valid: {', '.join(files)}")
    return files[name]
