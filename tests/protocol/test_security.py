"""A protocol file is data, not code: criteria, formulas and SQL cannot run code or touch files.

Every construct refused here ran Python code, wrote a file or read one before the change
(criteria went to ``DataFrame.eval``, formulas to formulaic unchecked, the query to a default
DuckDB connection).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.protocol import read_protocol, validate_protocol
from cohortlab.protocol._expr import check_criterion, check_formula
from cohortlab.protocol._sql import connect
from cohortlab.protocol.methods import with_exposure
from cohortlab.protocol.schema import ProtocolError, parse_protocol
from cohortlab.protocol.template import template_text

duckdb = pytest.importorskip("duckdb")

NHEFS = template_text("nhefs")
ROOT = Path(__file__).resolve().parents[2]
KEEP = 'keep = "wt82.notna()"'
FORMULA_END = "+ wt71 + I(wt71**2)\"\"\"\n\n[[analyses]]"

SQL = '''
[study]
title = "sql"
[data]
query = """{query}"""
[exposure]
column = "a"
[[outcomes]]
name = "y"
type = "continuous"
column = "y"
[[analyses]]
name = "crude"
method = "crude_effect"
'''


def _frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame({"x": rng.normal(size=n), "a": rng.integers(0, 2, n),
                         "y": rng.normal(size=n), "year": np.repeat([2019, 2021], n // 2)})


# ----------------------------------------------------------------------------- the exploits
def test_eligibility_exploit_is_refused_and_runs_nothing(tmp_path, write_protocol, monkeypatch):
    monkeypatch.chdir(tmp_path)
    keep = """keep = 'wt82.notna() & @pd.io.common.os.system("id > f") == 0'"""
    path = write_protocol(NHEFS.replace(KEEP, keep))
    with pytest.raises(ProtocolError, match=r"^eligibility\[0\]\.keep: '@' is not allowed"):
        validate_protocol(path)
    assert not (tmp_path / "f").exists()


def test_formula_exploit_is_refused_and_runs_nothing(tmp_path, write_protocol):
    target = tmp_path / "g"
    formula = f"+ wt71 + I(__import__('os').system('id > {target}'))\"\"\"\n\n[[analyses]]"
    path = write_protocol(NHEFS.replace(FORMULA_END, formula))
    with pytest.raises(ProtocolError, match=r"^covariates\.formula: '\.system' is not allowed"):
        validate_protocol(path)
    with pytest.raises(ProtocolError, match=r"^covariates\.formula"):
        cl.protocol.run_protocol(path, tmp_path / "out", quiet=True)
    assert not target.exists() and not (tmp_path / "out").exists()


def test_option_formula_exploit_is_refused(tmp_path, write_protocol):
    target = tmp_path / "h"
    text = NHEFS.replace('options = { variance = "robust" }',
                         "options = { variance = \"robust\", covariates = "
                         f"\"age + I(__import__('os').system('id > {target}'))\" }}")
    with pytest.raises(ProtocolError, match=r"^analyses\[1\]\.options\.covariates: "):
        validate_protocol(write_protocol(text))
    assert not target.exists()


def test_sql_copy_exploit_is_refused_and_writes_nothing(tmp_path, write_protocol):
    target = tmp_path / "copied.csv"
    query = f"COPY (SELECT 1 AS a, 2.0 AS y) TO '{target}'"
    with pytest.raises(ProtocolError, match=r"^data\.query: COPY statements are not allowed"):
        validate_protocol(write_protocol(SQL.format(query=query)))
    assert not target.exists()


def test_column_list_cannot_break_out_of_backticks(tmp_path, write_protocol):
    target = tmp_path / "i"
    text = NHEFS.replace('options = { variance = "robust" }',
                         "options = { covariates = [\"age` + I(__import__('os').system("
                         f"'id > {target}')) + `sex\"] }}")
    with pytest.raises(ProtocolError, match=r"^analyses\[1\]\.options\.covariates\[0\]: must be "
                                            r"a column name without backticks"):
        validate_protocol(write_protocol(text))
    assert not target.exists()


def test_exposure_name_is_quoted_in_a_formula():
    assert with_exposure("qsmk", "age") == "qsmk + age"
    assert with_exposure("ph.ecog", "age") == "`ph.ecog` + age"


# ----------------------------------------------------------------------------- criteria
REFUSED_CRITERIA = [
    ('wt82.notna() & @pd.io.common.os.system("id > f") == 0', "'@'"),
    ("@threshold < age", "'@'"),
    ("__import__('os').system('id')", "'.system'"),
    ("__import__('os')", "'__import__'"),
    ("age.__class__", "'.__class__'"),
    ("wt82.values > 1", "'.values'"),
    ("age.apply(print)", "'.apply'"),
    ("age.pipe(eval)", "'.pipe'"),
    ("age.str.contains('a')", "'.contains'"),
    ("print(age)", "'print'"),
    ("eval('1')", "'eval'"),
    ("getattr(age, 'x')", "'getattr'"),
    ("np.os.system('id')", "'.system'"),
    ("np", "'np'"),
    ("__builtins__", "'__builtins__'"),
    ("age[0] > 1", "subscripts"),
    ("(lambda: 1)()", "'lambda: 1'"),
    ("[x for x in age]", "comprehensions"),
    ("f'{age}' == 'x'", "f-strings"),
    ("{'a': 1}", "dicts"),
    ("age if sex else wt82", "if-else"),
    ("(x := 1)", "':='"),
    ("age > 1; age", "';'"),
    ("age.isin(sex)", "'sex'"),
    ("age.between(a, b)", "'a'"),
    ("age.between(1, 2, foo=3)", "keyword foo="),
    ("age is None", "unsupported comparison"),
    ("b'x' == age", "b'x'"),
    ("age > 1 # comment", "'# comment'"),
    ("$age > 1", "'$'"),
    ("age in sex", "'in' needs a list"),
]


@pytest.mark.parametrize(("text", "token"), REFUSED_CRITERIA)
def test_refused_criterion_names_the_field_and_the_token(text, token):
    with pytest.raises(ProtocolError) as info:
        check_criterion(text, "eligibility[2].keep")
    assert str(info.value).startswith("eligibility[2].keep: ")
    assert token in str(info.value)
    assert info.value.field == "eligibility[2].keep"


@pytest.mark.parametrize(("text", "token"), REFUSED_CRITERIA[2:6])
def test_refused_criterion_in_a_protocol_file(text, token):
    toml = NHEFS.replace(KEEP, "keep = '''" + text + "'''")
    with pytest.raises(ProtocolError, match=r"^eligibility\[0\]\.keep: ") as info:
        parse_protocol(tomllib.loads(toml))
    assert token in str(info.value)


@pytest.fixture(scope="module")
def nhefs() -> pd.DataFrame:
    return cl.datasets.load_nhefs()


#: The criteria of the bundled examples, docs and tests, and the language's other forms.
VALID_CRITERIA = [
    "wt82.notna()", "age >= 40", "age >= 35", "18 <= age < 70", "age > 18 & sex == 1",
    "sex == 1 | age > 60", "~(age > 50)", "not age > 50", "age in [30, 40, 50]",
    "race not in (1,)", "age.between(30, 50)", "age.between(30, 50, inclusive='left')",
    "abs(wt82 - wt71) > 10", "log(wt71) > 4", "wt82.isna()", "wt82.isnull() | wt82.notnull()",
    "age * 2 // 3 % 5 - -1 > 10", "`age` > 40", "smokeintensity / 2 >= 10", "age == [30, 40]",
    "education.isin([1, 2])", "age > 40 and sex == 0 or race == 1", "wt82 > 50",
    "wt82.notna() & (wt82 > 60)", "sqrt(smokeyrs) ** 2 >= 25", "exp(-age / 100) < 0.6",
]


@pytest.mark.parametrize("text", VALID_CRITERIA)
def test_valid_criteria_keep_the_rows_dataframe_eval_keeps(nhefs, text):
    ours = cl.attrition(nhefs, [("step", check_criterion(text, "eligibility[0].keep").evaluate)])
    theirs = cl.attrition(nhefs, [("step", text)])
    pd.testing.assert_frame_equal(ours.data, theirs.data)
    pd.testing.assert_frame_equal(ours.steps, theirs.steps)


def test_methods_beyond_dataframe_eval(nhefs):
    """Method calls on an expression and np.<function> work (DataFrame.eval cannot)."""
    got = check_criterion("(wt82 - wt71).abs() > 10", "k").evaluate(nhefs)
    assert got.equals((nhefs["wt82"] - nhefs["wt71"]).abs() > 10)
    got = check_criterion("np.log(wt71) > 4", "k").evaluate(nhefs)
    assert got.equals(np.log(nhefs["wt71"]) > 4)
    frame = pd.DataFrame({"code": ["I21", "I48", "I50"], "ph.ecog": [0, 1, 2]})
    got = check_criterion("code.str.startswith('I2') | (`ph.ecog` >= 2)", "k").evaluate(frame)
    assert got.tolist() == [True, False, True]


def test_protocol_criteria_give_the_same_cohort(write_protocol):
    text = NHEFS.replace(KEEP, KEEP + "\n\n[[eligibility]]\nname = \"aged 25 to 70\"\n"
                         "keep = \"age.between(25, 70) & sex.isin([0, 1])\"")
    _, cohort = validate_protocol(write_protocol(text))
    nhefs = cl.datasets.load_nhefs()
    expected = nhefs[nhefs.eval("wt82.notna()")]
    expected = expected[expected.eval("age >= 25 & age <= 70 & sex in [0, 1]")]
    assert cohort.data["seqn"].tolist() == expected["seqn"].tolist()
    assert cohort.flow.steps["n_after"].tolist() == [1566, len(expected)]


def test_unknown_column_in_a_criterion(write_protocol):
    with pytest.raises(ProtocolError, match=r"^eligibility\[0\]\.keep: column 'wt28' not "
                                            r"found\. Did you mean 'wt82'"):
        validate_protocol(write_protocol(NHEFS.replace(KEEP, 'keep = "wt28.notna()"')))


# ----------------------------------------------------------------------------- formulas
REFUSED_FORMULAS = [
    ("age + I(__import__('os').system('id'))", "'.system'"),
    ("I(__import__('os'))", "'__import__'"),
    ("age + np.os.system('x')", "'.system'"),
    ("age + np.linalg.inv(age)", "'.inv'"),
    ("age + {age**2}", "{...}"),
    ("age + (lambda: 1)()", "could not be parsed"),
    ("age[0]", "subscripts"),
    ("C(race, eval('x'))", "'eval(...)'"),
    ("bs(age, df=eval('3'))", "'eval(...)'"),
    ("I(age.__class__)", "'.__class__'"),
    ("Q(age)", "Q() takes one column name"),
    ("age + sex.real", "'.real'"),
    ("exec('x')", "'exec'"),
    ("age + 'x'", "\"'x'\""),
    ("C(race, contr.__class__)", "'.__class__'"),
    ("age @ sex", "'@'"),
    ("age + lag(age)", "'lag'"),
    ("I(age if sex else 1)", "if-else"),
    ("I([a for a in age])", "comprehensions"),
    ("age + sex; 1", "';'"),
]


@pytest.mark.parametrize(("text", "token"), REFUSED_FORMULAS)
def test_refused_formula_names_the_key_and_the_token(text, token):
    with pytest.raises(ProtocolError) as info:
        check_formula(text, "analyses[1].options.outcome_covariates")
    assert str(info.value).startswith("analyses[1].options.outcome_covariates: ")
    assert token in str(info.value)


@pytest.mark.parametrize(("text", "token"), REFUSED_FORMULAS[:2])
@pytest.mark.parametrize("key", ["covariates", "censoring_covariates"])
def test_refused_formula_in_an_option(text, token, key):
    toml = NHEFS.replace('options = { variance = "robust" }', f"options = {{ {key} = "
                         f"\"\"\"{text}\"\"\" }}")
    with pytest.raises(ProtocolError, match=rf"^analyses\[1\]\.options\.{key}: ") as info:
        parse_protocol(tomllib.loads(toml))
    assert token in str(info.value)


@pytest.mark.parametrize("text", [
    "sex + race + age + I(age**2) + C(education) + smokeintensity + I(smokeintensity**2)",
    "qsmk + I(qsmk*smokeintensity) + qsmk:ps", "bs(bmi, df=3) + cr(age, 4) + cc(x, df=5)",
    "C(b, contr.treatment(2))", "C(b, levels=[2, 1])", "C(b, Treatment(reference=2))",
    "np.log(a) + log(b) + np.sqrt(c) + np.log1p(d)", "`weird name` + a", "0 + a", "a*b - 1",
    "(a + b)**2", "poly(a, 2) + center(b) + scale(c) + standardize(d)", "Q('x y')",
    "I(a > 2) + I((a - 50) / 10)", "C(a):b + a/b",
])
def test_valid_formulas_pass(text):
    check_formula(text, "covariates")


PROTOCOLS = sorted([*(ROOT / "src" / "cohortlab" / "protocol" / "examples").glob("*.toml"),
                    *(ROOT / "analyses").glob("*/*.toml")])


@pytest.mark.parametrize("path", PROTOCOLS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bundled_and_published_protocols_pass_the_checks(path):
    from cohortlab.protocol.targettrial import is_target_trial, read_target_trial_protocol

    if is_target_trial(path):
        assert read_target_trial_protocol(path).spec.treatment
        return
    protocol = read_protocol(path)
    assert protocol.analyses or protocol.longitudinal.analyses


# ----------------------------------------------------------------------------- SQL
REFUSED_SQL = [
    ("COPY (SELECT 1 AS a) TO 'out.csv'", "COPY statements"),
    ("ATTACH 'other.db' AS o", "ATTACH statements"),
    ("DETACH o", "DETACH statements"),
    ("INSTALL httpfs", "INSTALL statements"),
    ("LOAD httpfs", "LOAD statements"),
    ("PRAGMA enable_external_access", "PRAGMA statements"),
    ("SET enable_external_access = true", "SET statements"),
    ("RESET enable_external_access", "RESET statements"),
    ("CREATE TABLE t AS SELECT 1 AS a", "CREATE statements"),
    ("DROP TABLE t", "DROP statements"),
    ("INSERT INTO t VALUES (1)", "INSERT statements"),
    ("UPDATE t SET a = 2", "UPDATE statements"),
    ("DELETE FROM t", "DELETE statements"),
    ("EXPORT DATABASE 'dump'", "EXPORT statements"),
    ("IMPORT DATABASE 'dump'", "IMPORT statements"),
    ("CALL pragma_version()", "CALL statements"),
    ("DESCRIBE SELECT 1 AS a", "DESCRIBE statements"),
    ("SELECT 1 AS a; COPY (SELECT 1) TO 'out.csv'", "exactly one statement; got 2"),
    ("SELECT 1 AS a; SELECT 2 AS a", "exactly one statement; got 2"),
    ("/* hidden */ COPY (SELECT 1) TO 'out.csv'", "COPY statements"),
    ("SELEC 1", "could not parse"),
]


@pytest.mark.parametrize(("query", "message"), REFUSED_SQL)
def test_refused_sql_statement(tmp_path, write_protocol, monkeypatch, query, message):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    path = write_protocol(SQL.format(query=query))
    with pytest.raises(ProtocolError, match=r"^data\.query: ") as info:
        validate_protocol(path)
    assert message in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, path.name])


@pytest.mark.parametrize("query", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM read_csv('secret.txt')",
    "SELECT * FROM read_csv('raw' || '.csv')",
    "SELECT * FROM read_csv('../outside/' || 'raw.csv')",
    "SELECT * FROM 'https://example.com/cohort.csv'",
    "SELECT * FROM read_csv('raw.csv') UNION ALL BY NAME SELECT * FROM read_csv('/etc/passwd')",
])
def test_query_cannot_read_files_it_does_not_name(tmp_path, write_protocol, query):
    _frame().to_csv(tmp_path / "raw.csv", index=False)
    (tmp_path / "secret.txt").write_text("a,y\n1,2\n")
    (tmp_path / "outside").mkdir()
    _frame().to_csv(tmp_path / "outside" / "raw.csv", index=False)
    folder = tmp_path / "study"
    folder.mkdir()
    _frame().to_csv(folder / "raw.csv", index=False)
    (folder / "study.toml").write_text(SQL.format(query=query.replace("secret", "../secret")))
    with pytest.raises(ProtocolError, match=r"^data\.query: DuckDB could not run the query "
                                            r"\(.*(Permission|disabled)"):
        validate_protocol(folder / "study.toml")


@pytest.mark.parametrize("query", [
    "SELECT * FROM 'raw.csv' WHERE year >= 2020",
    "WITH r AS (SELECT * FROM read_csv('raw.csv')) SELECT * FROM r WHERE year >= 2020",
    "FROM 'data/raw.csv' WHERE year >= 2020",
    "-- the later half\nSELECT * FROM read_csv_auto('data/raw.csv') WHERE year >= 2020",
    "(SELECT * FROM 'raw.csv' WHERE year >= 2020)",
    "SELECT * FROM '{abs}' WHERE year >= 2020",
])
def test_valid_queries_read_their_data_files(tmp_path, write_protocol, query):
    _frame().to_csv(tmp_path / "raw.csv", index=False)
    (tmp_path / "data").mkdir()
    _frame().to_csv(tmp_path / "data" / "raw.csv", index=False)
    query = query.format(abs=(tmp_path / "raw.csv").as_posix())
    _, cohort = validate_protocol(write_protocol(SQL.format(query=query)))
    assert len(cohort.data) == 20 and len(cohort.files) == 1


def test_query_reads_the_hashed_file_not_one_in_the_working_directory(tmp_path, monkeypatch):
    """DuckDB prefers the working directory for a relative path: the query must not."""
    folder, cwd = tmp_path / "study", tmp_path / "elsewhere"
    folder.mkdir()
    cwd.mkdir()
    _frame().to_csv(folder / "raw.csv", index=False)
    _frame().assign(year=1999).to_csv(cwd / "raw.csv", index=False)
    monkeypatch.chdir(cwd)
    (folder / "study.toml").write_text(SQL.format(query="SELECT * FROM 'raw.csv' WHERE "
                                                        "year >= 2020"))
    _, cohort = validate_protocol(folder / "study.toml")
    assert len(cohort.data) == 20
    assert list(cohort.files) == ["raw.csv"]


def test_outcome_model_formula_exploit_is_refused(tmp_path, write_protocol):
    target = tmp_path / "j"
    text = NHEFS.replace('options = { outcome_covariates = """qsmk + ',
                         "options = { outcome_covariates = \"\"\"qsmk + "
                         f"I(__import__('os').system('id > {target}')) + ")
    assert text != NHEFS
    with pytest.raises(ProtocolError, match=r"^analyses\[3\]\.options\.outcome_covariates: "
                                            r"'\.system' is not allowed"):
        validate_protocol(write_protocol(text))
    assert not target.exists()


def test_query_connection_is_locked_down(tmp_path):
    (tmp_path / "raw.csv").write_text("a\n1\n")
    con = connect(tmp_path, {"raw.csv": tmp_path / "raw.csv"})
    try:
        settings = dict(con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
            "'lock_configuration', 'autoinstall_known_extensions', "
            "'autoload_known_extensions', 'allow_community_extensions')").fetchall())
        assert settings == {"enable_external_access": "false", "lock_configuration": "true",
                            "autoinstall_known_extensions": "false",
                            "autoload_known_extensions": "false",
                            "allow_community_extensions": "false"}
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("SET enable_external_access = true")
        assert con.execute(f"SELECT * FROM '{tmp_path / 'raw.csv'}'").fetchall() == [(1,)]
    finally:
        con.close()


@pytest.mark.parametrize("text", ["age > 9**9**9", "age ** age > 3", "wt71 > 2 ** 100"])
def test_a_criterion_cannot_hang_the_run_with_a_huge_power(text):
    # 9**9**9 is an exact Python integer with ~370 million digits: hours of CPU at validate
    from cohortlab.protocol._expr import check_criterion

    with pytest.raises(ProtocolError, match="exponent must be a number between -10 and 10"):
        check_criterion(text, "eligibility[0].keep")


@pytest.mark.parametrize("text", ["I(9**9**9)", "age + I(age ** wt71)"])
def test_a_formula_cannot_hang_the_run_with_a_huge_power(text):
    from cohortlab.protocol._expr import check_formula

    with pytest.raises(ProtocolError, match="exponent must be a number between -10 and 10"):
        check_formula(text, "covariates")
