"""Reading a OneRoster CSV set (a folder or a zip): the manifest, its version, each file's mode."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath

from app.errors import InvalidInput

#: The files this importer reads; any other file of the set is left alone.
FILES = (
    "orgs",
    "academicSessions",
    "courses",
    "classes",
    "users",
    "roles",
    "enrollments",
    "demographics",
)
VERSIONS = ("1.1", "1.2")
#: A roster set far bigger than any school's is refused before it is read into memory.
MAX_FILE_BYTES = 256 * 1024 * 1024


class Mode(StrEnum):
    BULK = "bulk"
    DELTA = "delta"
    ABSENT = "absent"


class RosterError(InvalidInput):
    """A problem in the set, named by file and line (1-based, the header is line 1)."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        where = f"{file} line {line}" if line else file
        super().__init__(file, f"{where}: {message}", reason="INVALID_ROSTER")
        self.file = file
        self.line = line


@dataclass(frozen=True, slots=True)
class Row:
    """One record of a CSV file, with where it came from."""

    file: str
    line: int
    values: Mapping[str, str]

    def get(self, column: str) -> str:
        return self.values.get(column, "").strip()

    def error(self, message: str) -> RosterError:
        return RosterError(self.file, self.line, message)


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    mode: Mode
    columns: tuple[str, ...] = ()
    rows: list[Row] = field(default_factory=list)

    @property
    def file(self) -> str:
        return f"{self.name}.csv"


@dataclass(frozen=True, slots=True)
class RosterSet:
    version: str
    tables: Mapping[str, Table]
    #: ``source.systemName`` from the manifest, for the report.
    source: str = ""

    def table(self, name: str) -> Table:
        return self.tables.get(name) or Table(name, Mode.ABSENT)


def read_set(path: Path) -> RosterSet:
    """Read a set from a folder or a zip; RosterError names the file and line of any problem."""
    if path.is_dir():
        texts = {p.name: p for p in path.iterdir() if p.is_file()}
        return _parse({name: _file_text(p) for name, p in texts.items() if name.endswith(".csv")})
    if zipfile.is_zipfile(path):
        return _parse(_zip_texts(path))
    raise RosterError(str(path), None, "is neither a folder nor a zip file of CSV files.")


def _file_text(path: Path) -> str:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise RosterError(path.name, None, "is too large to be a school's roster file.")
    return _decode(path.name, path.read_bytes())


def _zip_texts(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        manifests = [m for m in members if PurePosixPath(m.filename).name == "manifest.csv"]
        # The files sit at the root; a zip made from a folder puts them one level down.
        prefix = str(PurePosixPath(manifests[0].filename).parent) if len(manifests) == 1 else "."
        texts: dict[str, str] = {}
        for member in members:
            name = PurePosixPath(member.filename)
            if str(name.parent) != prefix or name.suffix != ".csv":
                continue
            # Read at most one byte past the limit: a zip's stated sizes can lie.
            with archive.open(member) as stream:
                raw = stream.read(MAX_FILE_BYTES + 1)
            if len(raw) > MAX_FILE_BYTES:
                raise RosterError(name.name, None, "is too large to be a school's roster file.")
            texts[name.name] = _decode(name.name, raw)
        return texts


def _decode(name: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RosterError(name, None, f"is not UTF-8 (byte {error.start}).") from None


def _records(file: str, text: str) -> tuple[tuple[str, ...], list[Row]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = tuple(h.strip() for h in next(reader))
    except StopIteration:
        raise RosterError(file, None, "is empty: it needs at least a header line.") from None
    except csv.Error as error:
        raise RosterError(file, 1, f"is not valid CSV ({error}).") from None
    if len(set(header)) != len(header):
        raise RosterError(file, 1, "a column name appears twice in the header.")
    rows: list[Row] = []
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise RosterError(file, start, f"is not valid CSV ({error}).") from None
        if not any(value.strip() for value in record):
            continue
        if len(record) != len(header):
            raise RosterError(
                file, start, f"has {len(record)} values but the header has {len(header)} columns."
            )
        rows.append(Row(file, start, dict(zip(header, record, strict=True))))
    return header, rows


def _parse(texts: Mapping[str, str]) -> RosterSet:
    if "manifest.csv" not in texts:
        raise RosterError("manifest.csv", None, "is missing: a OneRoster set starts with it.")
    header, rows = _records("manifest.csv", texts["manifest.csv"])
    if header[:2] != ("propertyName", "value"):
        raise RosterError("manifest.csv", 1, "the header must be propertyName,value.")
    properties = {row.get("propertyName"): row for row in rows}
    version_row = properties.get("oneroster.version")
    if version_row is None:
        raise RosterError("manifest.csv", None, "has no oneroster.version row.")
    version = version_row.get("value")
    if version not in VERSIONS:
        raise version_row.error(f"oneroster.version must be 1.1 or 1.2, not {version!r}.")
    tables: dict[str, Table] = {}
    for name in FILES:
        row = properties.get(f"file.{name}")
        present = f"{name}.csv" in texts
        if row is None:
            if present:
                raise RosterError(
                    f"{name}.csv", None, f"is in the set but manifest.csv has no file.{name} row."
                )
            continue
        try:
            mode = Mode(row.get("value").lower())
        except ValueError:
            raise row.error(f"file.{name} must be bulk, delta or absent.") from None
        if mode is Mode.ABSENT:
            continue
        if not present:
            raise row.error(f"file.{name} is {mode} but {name}.csv is not in the set.")
        columns, records = _records(f"{name}.csv", texts[f"{name}.csv"])
        tables[name] = Table(name, mode, columns, records)
    source_row = properties.get("source.systemName")
    return RosterSet(version, tables, source_row.get("value") if source_row else "")


__all__ = ["FILES", "Mode", "RosterError", "RosterSet", "Row", "Table", "read_set"]
