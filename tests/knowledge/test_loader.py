"""
Loading the knowledge base: valid trees load, and every invalid file is reported with
its file and line (``smtpbot kb lint`` shows these to the people writing entries).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import KnowledgeError
from knowledge.loader import (
    collect_knowledge,
    load_knowledge,
    parse_code_table,
    parse_entry,
)
from tests.knowledge.conftest import (
    SAMPLE_ENTRIES,
    KnowledgeTree,
    dump_yaml,
    entry_data,
    line_of,
)


def load_error(tree: KnowledgeTree) -> KnowledgeError:
    """The error ``load_knowledge`` raises for ``tree`` (fails the test if it loads)."""
    with pytest.raises(KnowledgeError) as info:
        tree.load()
    return info.value


def test_valid_tree_loads_every_entry_and_table(sample_tree: KnowledgeTree) -> None:
    """A valid tree loads all entries, their paths and the three code tables."""
    kb = sample_tree.load()
    assert sorted(e.id for e in kb.entries) == sorted(e["id"] for e in SAMPLE_ENTRIES)
    for entry in kb.entries:
        assert Path(kb.paths[entry.id]) == (
            sample_tree.root / "entries" / entry.category / f"{entry.id}.yaml"
        )
    assert set(kb.reply_codes) == {"250", "530", "535", "550"}
    assert kb.enhanced("5.1.1") is not None
    assert kb.enhanced("5.1.1").category == "recipient-unknown"  # type: ignore[union-attr]
    assert kb.hex_codes["0x8004210B"].category == "connection-timeout"


def test_collect_reports_no_errors_for_valid_tree(sample_tree: KnowledgeTree) -> None:
    """``collect_knowledge`` on a valid tree returns the entries and no errors."""
    kb, errors = sample_tree.collect()
    assert errors == []
    assert len(kb.entries) == len(SAMPLE_ENTRIES)


def test_entry_fields_are_parsed(tree: KnowledgeTree) -> None:
    """An entry's fields come through with their types (codes, sources, probe flag)."""
    tree.entry(probe_helps=True, hex_codes=["0x800CCC0E"], applies_to=["outlook"])
    entry = tree.load().get("sample-entry")
    assert entry is not None
    assert list(entry.reply_codes) == [535]
    assert list(entry.enhanced_codes) == ["5.7.3"]
    assert list(entry.hex_codes) == ["0x800CCC0E"]
    assert entry.probe_helps is True
    assert entry.sources[0].file == "guidance/smtp-notes.txt"


def test_entries_in_nested_folders_and_yml_suffix_load(tree: KnowledgeTree) -> None:
    """Entry files are found in any sub-folder, with ``.yaml`` or ``.yml``."""
    text = dump_yaml(entry_data(id="deep-entry"))
    tree.entry_text(text, name="deep-entry.yml", folder="a/b/c")
    assert [e.id for e in tree.load().entries] == ["deep-entry"]


def test_get_unknown_id_returns_none(sample_tree: KnowledgeTree) -> None:
    """``KnowledgeBase.get`` answers None for an id that is not there."""
    assert sample_tree.load().get("no-such-entry") is None


def test_empty_tree_is_an_error(tree: KnowledgeTree) -> None:
    """A knowledge folder without entries is reported, not silently empty."""
    error = load_error(tree)
    assert "no entries" in error.message


def test_bad_yaml_syntax_reports_file_and_line(tree: KnowledgeTree) -> None:
    """Broken YAML is reported with the file and the line of the syntax error."""
    good = dump_yaml(entry_data())
    bad = good.replace("cause: ", "cause: oops: ", 1).replace(
        "fix:", "  fix: [unclosed", 1
    )
    path = tree.entry_text(bad, name="sample-entry.yaml")
    error = load_error(tree)
    assert Path(error.path) == path
    assert error.line == line_of(bad, "cause: oops")
    assert "invalid YAML" in error.message


def test_bad_indentation_reports_that_line(tree: KnowledgeTree) -> None:
    """A mis-indented key is reported at its own line."""
    text = "id: sample-entry\ntitle: Sample\n  category: auth-failed\n"
    path = tree.entry_text(text, name="sample-entry.yaml")
    error = load_error(tree)
    assert (Path(error.path), error.line) == (path, 3)


def test_unknown_category_reports_its_line(tree: KnowledgeTree) -> None:
    """A category outside TAXONOMY.md is rejected at the category line."""
    path = tree.entry(category="smtp-weirdness", header="# header comment\n")
    text = path.read_text(encoding="utf-8")
    error = load_error(tree)
    assert (Path(error.path), error.line) == (path, line_of(text, "category:"))
    assert "smtp-weirdness" in error.message


def test_missing_field_names_the_field(tree: KnowledgeTree) -> None:
    """A missing required field is named, and reported at the entry's first line."""
    data = entry_data()
    del data["cause"]
    path = tree.entry_text(dump_yaml(data), name="sample-entry.yaml")
    error = load_error(tree)
    assert (Path(error.path), error.line) == (path, 1)
    assert "cause" in error.message
    assert "required" in error.message.lower()


@pytest.mark.parametrize("typo", ["titel", "signature", "probe_help", "source"])
def test_unknown_field_reports_its_line(tree: KnowledgeTree, typo: str) -> None:
    """An extra or misspelt key is an error at its own line, not silently ignored."""
    text = dump_yaml(entry_data(**{typo: "x"}))
    path = tree.entry_text(text, name="sample-entry.yaml")
    error = load_error(tree)
    assert (Path(error.path), error.line) == (path, line_of(text, f"{typo}:"))
    assert typo in error.message


def test_id_must_equal_file_stem(tree: KnowledgeTree) -> None:
    """An id that differs from the file name is reported at the id line."""
    text = "# comment\n" + dump_yaml(entry_data(id="other-name"))
    path = tree.entry_text(text, name="sample-entry.yaml")
    error = load_error(tree)
    assert (Path(error.path), error.line) == (path, line_of(text, "id:"))
    assert "other-name" in error.message and "sample-entry" in error.message


def test_duplicate_id_reports_second_file_at_id_line(tree: KnowledgeTree) -> None:
    """The same id in two folders is reported on the later file, at its id line."""
    first = tree.entry(folder="a")
    second = tree.entry(folder="b", header="# a comment\n# another\n")
    text = second.read_text(encoding="utf-8")
    kb, errors = tree.collect()
    assert [e.id for e in kb.entries] == ["sample-entry"]
    assert len(errors) == 1
    assert Path(errors[0].path) == second
    assert "duplicate" in errors[0].message and str(first) in errors[0].message
    assert errors[0].line == line_of(text, "id:")


def test_too_short_signature_reports_its_line(tree: KnowledgeTree) -> None:
    """A signature too short to match reliably is reported at that signature's line."""
    signatures = [
        "535 5.7.3 Authentication unsuccessful",
        "denied",
        "Authentication failed",
    ]
    text = dump_yaml(entry_data(signatures=signatures))
    path = tree.entry_text(text, name="sample-entry.yaml")
    error = load_error(tree)
    assert "at least 8 characters" in error.message
    assert (Path(error.path), error.line) == (path, line_of(text, "- denied"))


def test_duplicate_signature_is_rejected(tree: KnowledgeTree) -> None:
    """The same signature twice (ignoring case) is an error."""
    text = dump_yaml(
        entry_data(signatures=["Relay access denied", "relay ACCESS denied"])
    )
    tree.entry_text(text, name="sample-entry.yaml")
    assert "duplicate signature" in load_error(tree).message


@pytest.mark.parametrize("bad", ["5.7", "5.7.1.2", "3.1.1", "X.7.1", "5.7.1000", "550"])
def test_bad_enhanced_code_reports_its_line(tree: KnowledgeTree, bad: str) -> None:
    """An enhanced code not shaped class.subject.detail is reported at its line."""
    text = dump_yaml(entry_data(enhanced_codes=["5.7.3", bad]))
    path = tree.entry_text(text, name="sample-entry.yaml")
    error = load_error(tree)
    assert (Path(error.path), error.line) == (path, line_of(text, "- 5.7.3") + 1)
    assert "enhanced_codes.1" in error.message


@pytest.mark.parametrize("bad", ["0x800ccc0e", "800CCC0E", "0x800CCC0", "0xZZZZZZZZ"])
def test_bad_hex_code_is_rejected(tree: KnowledgeTree, bad: str) -> None:
    """Outlook hex codes must be 0x plus eight upper-case hex digits."""
    text = dump_yaml(entry_data(hex_codes=[bad]))
    path = tree.entry_text(text, name="sample-entry.yaml")
    error = load_error(tree)
    assert (Path(error.path), error.line) == (path, line_of(text, "hex_codes:") + 1)


@pytest.mark.parametrize("bad", [199, 600])
def test_reply_code_out_of_range_is_rejected(tree: KnowledgeTree, bad: int) -> None:
    """Reply codes outside 200-599 are rejected."""
    tree.entry(reply_codes=[bad])
    assert "reply_codes" in load_error(tree).message


@pytest.mark.parametrize(
    "file", ["../secrets.txt", "/etc/passwd", "notes.txt", "guidance/sub/dir.txt"]
)
def test_bad_source_file_path_points_at_that_source(
    tree: KnowledgeTree, file: str
) -> None:
    """A source file outside ``guidance/`` is rejected at the lines of that source."""
    sources = [
        {"title": "RFC 3207", "url": "https://www.rfc-editor.org/rfc/rfc3207"},
        {"title": "Bad", "section": "1", "file": file},
    ]
    text = dump_yaml(entry_data(sources=sources))
    path = tree.entry_text(text, name="sample-entry.yaml")
    error = load_error(tree)
    assert Path(error.path) == path
    assert line_of(text, "- title: Bad") <= (error.line or 0) <= line_of(text, "file:")
    assert "guidance/" in error.message


def test_source_without_url_or_file_is_rejected(tree: KnowledgeTree) -> None:
    """A source must say where it is: a url or a guidance file."""
    tree.entry(sources=[{"title": "Somewhere"}])
    assert "url or a file" in load_error(tree).message


def test_missing_guidance_file_reports_file_and_line(tree: KnowledgeTree) -> None:
    """Citing a guidance file that is not shipped is an error at the citing line."""
    text = dump_yaml(
        entry_data(sources=[{"title": "Gone", "file": "guidance/missing.txt"}])
    )
    path = tree.entry_text(text, name="sample-entry.yaml")
    kb, errors = tree.collect()
    assert len(errors) == 1
    assert Path(errors[0].path) == path
    assert "guidance/missing.txt" in errors[0].message
    assert (
        line_of(text, "- title: Gone")
        <= (errors[0].line or 0)
        <= line_of(text, "missing.txt")
    )


def test_existing_guidance_file_is_accepted(tree: KnowledgeTree) -> None:
    """Citing a shipped guidance file is fine."""
    tree.guidance("outlook.txt", "Outlook notes\n")
    tree.entry(sources=[{"title": "Outlook", "file": "guidance/outlook.txt"}])
    assert tree.collect()[1] == []


def test_empty_file_is_an_error_not_a_crash(tree: KnowledgeTree) -> None:
    """An empty entry file is a KnowledgeError naming the file."""
    path = tree.entry_text("", name="sample-entry.yaml")
    assert Path(load_error(tree).path) == path


def test_list_at_top_level_is_an_error(tree: KnowledgeTree) -> None:
    """A YAML list instead of a mapping is a KnowledgeError at line 1."""
    path = tree.entry_text("- id: sample-entry\n", name="sample-entry.yaml")
    error = load_error(tree)
    assert (Path(error.path), error.line) == (path, 1)


def test_two_documents_in_one_file_is_an_error(tree: KnowledgeTree) -> None:
    """A second YAML document in an entry file is rejected."""
    text = dump_yaml(entry_data()) + "---\n" + dump_yaml(entry_data())
    path = tree.entry_text(text, name="sample-entry.yaml")
    error = load_error(tree)
    assert Path(error.path) == path
    assert error.line == line_of(text, "---")


def test_non_utf8_file_is_collected_as_error(tree: KnowledgeTree) -> None:
    """An entry file that is not UTF-8 is reported, and the other entries still load."""
    tree.entry(id="good-entry")
    bad = tree.root / "entries" / "misc" / "latin1-entry.yaml"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(
        dump_yaml(entry_data(id="latin1-entry", title="Caf\xe9")).encode("latin-1")
    )
    kb, errors = tree.collect()
    assert [e.id for e in kb.entries] == ["good-entry"]
    assert [Path(e.path) for e in errors] == [bad]


def test_collect_keeps_good_entries_and_reports_every_bad_one(
    tree: KnowledgeTree,
) -> None:
    """``collect_knowledge`` loads the valid files and gives one error per bad file."""
    tree.entry(id="good-one")
    tree.entry(id="good-two", category="relay-denied")
    bad_category = tree.entry(id="bad-category", category="nope")
    bad_yaml = tree.entry_text("id: [unclosed\n", name="bad-yaml.yaml")
    bad_stem = tree.entry_text(
        dump_yaml(entry_data(id="not-the-stem")), name="bad-stem.yaml"
    )
    kb, errors = collect_knowledge(tree.root)
    assert sorted(e.id for e in kb.entries) == ["good-one", "good-two"]
    assert sorted(Path(e.path) for e in errors) == sorted(
        [bad_category, bad_yaml, bad_stem]
    )
    assert all(e.line is not None for e in errors)
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(tree.root)
    assert str(info.value) == str(errors[0])  # load_knowledge raises the first one


def test_error_string_shows_path_and_line(tree: KnowledgeTree) -> None:
    """``str(KnowledgeError)`` reads ``path:line: message`` like a compiler error."""
    path = tree.entry(category="nope")
    error = load_error(tree)
    assert str(error).startswith(f"{path}:{error.line}: ")


def test_parse_entry_is_pure(tmp_path: Path) -> None:
    """``parse_entry`` validates text without reading the path it is given."""
    missing = tmp_path / "does" / "not" / "exist" / "sample-entry.yaml"
    entry = parse_entry(dump_yaml(entry_data()), missing)
    assert entry.id == "sample-entry"
    assert not missing.exists()


# Code tables


def test_code_table_loads_all_kinds(sample_tree: KnowledgeTree) -> None:
    """Reply, enhanced and hex tables load into their own dictionaries."""
    kb = sample_tree.load()
    assert kb.reply_codes["530"].title
    assert kb.enhanced_codes["X.3.4"].category == "message-too-large"
    assert list(kb.hex_codes) == ["0x8004210B"]


def test_enhanced_lookup_maps_class_digit_to_x(sample_tree: KnowledgeTree) -> None:
    """``KnowledgeBase.enhanced`` finds the ``X.s.d`` row for 4.s.d and 5.s.d."""
    kb = sample_tree.load()
    assert kb.enhanced("4.3.4") is kb.enhanced("5.3.4") is kb.enhanced_codes["X.3.4"]
    assert kb.enhanced("5.9.9") is None
    assert kb.enhanced("") is None


@pytest.mark.parametrize(
    ("kind", "code"),
    [("reply", "600"), ("reply", "55"), ("enhanced", "7.1.1"), ("hex", "0x800ccc0e")],
)
def test_code_table_rejects_code_of_wrong_shape(
    tree: KnowledgeTree, kind: str, code: str
) -> None:
    """A code that does not fit its table's kind is an error naming the code."""
    tree.entry()
    path = tree.codes(kind, [{"code": code, "title": "T", "meaning": "M"}])
    kb, errors = tree.collect()
    assert [Path(e.path) for e in errors] == [path]
    assert code in errors[0].message


def test_code_table_rejects_duplicate_code(tree: KnowledgeTree) -> None:
    """The same code twice in a table is an error."""
    tree.entry()
    row = {"code": "550", "title": "T", "meaning": "M"}
    path = tree.codes("reply", [row, row])
    kb, errors = tree.collect()
    assert [Path(e.path) for e in errors] == [path]
    assert "twice" in errors[0].message


def test_code_table_unknown_category_reports_its_line(tree: KnowledgeTree) -> None:
    """A code row with a category outside the taxonomy is reported at that line."""
    tree.entry()
    rows = [
        {
            "code": "X.1.1",
            "title": "T",
            "meaning": "M",
            "category": "recipient-unknown",
        },
        {"code": "X.2.2", "title": "T", "meaning": "M", "category": "mailbox-fool"},
    ]
    path = tree.codes("enhanced", rows)
    text = path.read_text(encoding="utf-8")
    kb, errors = tree.collect()
    assert [(Path(e.path), e.line) for e in errors] == [
        (path, line_of(text, "mailbox-fool"))
    ]


def test_code_table_unknown_kind_and_extra_key(tree: KnowledgeTree) -> None:
    """A table of an unknown kind, or with a misspelt key, is rejected with a line."""
    tree.entry()
    kind_text = "kind: replies\ncodes: []\n"
    key_text = (
        "kind: reply\ncodes:\n- code: '250'\n  title: OK\n  meaning: M\n"
        "  source: RFC\n  sorce: RFC\n"
    )
    kind_path = tree.codes_text(kind_text, name="a")
    key_path = tree.codes_text(key_text, name="b")
    kb, errors = tree.collect()
    found = {Path(e.path): e.line for e in errors}
    assert found == {kind_path: 1, key_path: line_of(key_text, "sorce")}


def test_unquoted_numeric_reply_code_is_rejected(tmp_path: Path) -> None:
    """``code: 550`` (a YAML integer) is rejected at its line, not mis-keyed."""
    text = "kind: reply\ncodes:\n- code: 550\n  title: T\n  meaning: M\n  source: RFC\n"
    with pytest.raises(KnowledgeError) as info:
        parse_code_table(text, tmp_path / "reply.yaml")
    assert info.value.line == 3


def test_bad_code_table_keeps_entries_loading(tree: KnowledgeTree) -> None:
    """A broken code table is reported but the entries still load."""
    tree.entry()
    tree.codes_text("kind: hex\ncodes: [\n", name="hex")
    kb, errors = tree.collect()
    assert [e.id for e in kb.entries] == ["sample-entry"]
    assert len(errors) == 1
