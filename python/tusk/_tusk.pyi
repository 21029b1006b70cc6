"""Type hints of the native module ``tusk._tusk``."""

from os import PathLike
from typing import Dict, List, Mapping, Optional, Union

__version__: str
SHARD_FORMATS: List[str]
"""The shard file formats ``shard_format=`` takes, oldest first; the last is the default."""

class TuskError(Exception):
    """An error from tusk's writer or store; the message names the place."""

Entry = Dict[str, Union[int, str]]

def shard_for(key: Union[bytes, str], shards: int) -> int:
    """The shard of ``key`` in a version of ``shards`` shards."""

def new_version_id() -> str:
    """A new version id for a version created now."""

class ShardBuilder:
    """Builds shard ``index`` of ``shards`` from records in any order."""

    def __init__(
        self,
        domain: str,
        index: int,
        shards: int,
        *,
        memory_budget: Optional[int] = None,
        on_duplicate: str = "error",
        max_value_len: Optional[int] = None,
        temp_dir: Optional[Union[str, PathLike[str]]] = None,
        shard_format: Optional[str] = None,
    ) -> None: ...
    @property
    def index(self) -> int: ...
    @property
    def added(self) -> int: ...
    def add(self, key: Union[bytes, str], value: Union[bytes, str]) -> None:
        """Adds one record; raises TuskError for a key of another shard."""
    def add_arrow_columns(
        self,
        key_offsets: bytes,
        key_data: bytes,
        value_offsets: bytes,
        value_data: bytes,
        offset: int,
        length: int,
        large: bool = False,
    ) -> int:
        """Adds ``length`` records from two Arrow binary columns' buffers."""
    def finish(self) -> "BuiltShard":
        """Sorts and merges what was added into the shard file."""

class BuiltShard:
    """A built shard file, not yet uploaded."""

    @property
    def index(self) -> int: ...
    @property
    def records(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def crc32(self) -> int: ...
    @property
    def content_hash(self) -> str: ...
    @property
    def records_in(self) -> int: ...
    @property
    def duplicates_dropped(self) -> int: ...
    @property
    def spilled_runs(self) -> int: ...
    @property
    def path(self) -> str: ...

def upload_shard(
    store: str, domain: str, version: str, object: str, shard: BuiltShard
) -> Entry:
    """Uploads ``shard`` as ``object`` of ``version``; returns its manifest entry."""

class Publication:
    """A version in the making, from ``begin`` to ``commit`` or ``abort``."""

    @staticmethod
    def begin(
        store: str,
        domain: str,
        *,
        actor: Optional[str] = None,
        lease_seconds: float = 60.0,
    ) -> "Publication": ...
    @property
    def store(self) -> str: ...
    @property
    def domain(self) -> str: ...
    @property
    def version(self) -> str: ...
    def commit(
        self,
        entries: List[Entry],
        *,
        activate: bool = True,
        actor: Optional[str] = None,
        reason: Optional[str] = None,
        writer: Optional[Mapping[str, str]] = None,
        shard_format: Optional[str] = None,
    ) -> Dict[str, Union[int, str, bool]]: ...
    def abort(self) -> None: ...
