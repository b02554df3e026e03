"""dvc.yaml tells the truth: each stage depends on every `timerft` module its script runs (imported anywhere in
the script, transitively within the package) and declares every params key its script reads, so that `dvc
status` flags a stage whenever a change can alter what it computes. Knobs that only change how a stage runs are
listed in EXECUTION_ONLY and must not be declared (changing them must not invalidate outputs)."""

import ast
import typing
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest
import yaml

from timerft.params import Params

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "timerft"
# how a stage runs, not what it computes: worker counts, launchers, logging. rl.rounds shapes the rl stages through
# their commands (init and train paths), which DVC tracks already; evaluate reads it to know which rounds to ask.
# inference.backend and inference.ray pick the engine that predicts, whose rows are the same either way.
INFERENCE_ENGINE = {"inference.backend", "inference.ray"}
EXECUTION_ONLY = {"data": {"synth.workers"}, "frames": {"frames.workers"}, "sft": {"sft.launcher", "tracking"},
                  "score": INFERENCE_ENGINE, "evaluate": INFERENCE_ENGINE,
                  "rl": {"rl.launcher", "rl.rounds", "tracking", *INFERENCE_ENGINE}}


def _stages() -> dict[str, dict]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: stage.get("do", stage) for name, stage in stages.items()}


def _script(stage: dict) -> Path:
    return ROOT / next(part for part in stage["cmd"].split() if part.startswith("stages/"))


def _timerft_imports(path: Path) -> set[str]:
    """`timerft` modules a file imports, at any depth of its code (functions import lazily)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("timerft"):
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            module = PACKAGE.joinpath(*name.split(".")[1:]).with_suffix(".py")
            if name.startswith("timerft.") and module.is_file():
                found.add(name.split(".", 1)[1])
    return found


def modules_used(script: Path) -> set[str]:
    """The package modules a stage script runs: its imports, their imports, and so on."""
    todo, seen = list(_timerft_imports(script)), set()
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += _timerft_imports(PACKAGE / f"{module.replace('.', '/')}.py")
    return seen


def _field_path(path: list[str]) -> str:
    """The longest prefix of an attribute chain on params that names a key: methods (`frames.sampling()`) and the
    contents of mapping-valued keys (`rl.rounds`) end it."""
    hint, keys = Params, []
    for name in path:
        if not is_dataclass(hint) or name not in {f.name for f in fields(hint)}:
            break
        keys.append(name)
        hint = typing.get_type_hints(hint)[name]
    return ".".join(keys)


def _is_part(path: list[str]) -> bool:
    """Whether a params path names the whole params or a dataclass-typed part of them (not a single key)."""
    hint = Params
    for name in path:
        if not is_dataclass(hint) or name not in {f.name for f in fields(hint)}:
            return False
        hint = typing.get_type_hints(hint)[name]
    return is_dataclass(hint)


def params_read(script: Path) -> set[str]:
    """`section.key` (or `section`, `section.sub` for a whole part passed on) for each read of the typed params
    that `stage_params()` returns, following the variables the params or a part of them are assigned to."""
    tree = ast.parse(script.read_text())
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    aliases: dict[str, list[str]] = {}

    def chain(node) -> list[str] | None:
        """The params path an expression names, or None."""
        attrs = []
        while isinstance(node, ast.Attribute):
            attrs.insert(0, node.attr)
            node = node.value
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "stage_params":
            return attrs
        if isinstance(node, ast.Name) and node.id in aliases:
            return aliases[node.id] + attrs
        return None

    assignments = [node for node in ast.walk(tree) if isinstance(node, ast.Assign)]
    for node in sorted(assignments, key=lambda n: n.lineno):
        targets = node.targets[0].elts if isinstance(node.targets[0], ast.Tuple) else node.targets
        values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
        for target, value in zip(targets, values):
            path = chain(value)
            if isinstance(target, ast.Name) and path is not None and _is_part(path):
                aliases[target.id] = path
    reads = set()
    for node in ast.walk(tree):
        parent = parents.get(node)
        if isinstance(parent, ast.Attribute) or (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)):
            continue  # only the outermost expression of a chain counts
        path = chain(node)
        if path is None:
            continue
        if isinstance(parent, ast.Assign | ast.Tuple) and isinstance(node, ast.Attribute | ast.Call):
            owner = parent if isinstance(parent, ast.Assign) else parents.get(parent)
            if isinstance(owner, ast.Assign) and _is_part(path):
                continue  # defines an alias, whose uses are counted
        reads.add(_field_path(path))
    return reads


def _declared_deps(stage: dict) -> set[str]:
    return {dep for dep in stage.get("deps", []) if isinstance(dep, str)}


def _declared_params(stage: dict) -> set[str]:
    return {item for item in stage.get("params", []) if isinstance(item, str)}


def _covered(key: str, declared: set[str]) -> bool:
    return any(key == item or key.startswith(item + ".") for item in declared)


def _leaves(hint, prefix: str = "") -> list[str]:
    if not is_dataclass(hint):
        return [prefix]
    hints = typing.get_type_hints(hint)
    return [leaf for f in fields(hint) for leaf in _leaves(hints[f.name], f"{prefix}.{f.name}".lstrip("."))]


STAGES, LEAVES = _stages(), _leaves(Params)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_each_stage_depends_on_every_module_its_script_runs(name):
    stage = STAGES[name]
    deps = _declared_deps(stage)
    missing = sorted(f"src/timerft/{module.replace('.', '/')}.py" for module in modules_used(_script(stage))
                     if f"src/timerft/{module.replace('.', '/')}.py" not in deps)
    assert not missing, f"stage {name} runs these modules but does not depend on them: {missing}"
    assert str(_script(stage).relative_to(ROOT)) in deps


@pytest.mark.parametrize("name", sorted(STAGES))
def test_each_stage_declares_every_param_it_reads_and_no_execution_knob(name):
    stage = STAGES[name]
    declared, execution_only = _declared_params(stage), EXECUTION_ONLY.get(name, set())
    undeclared = []
    for read in params_read(_script(stage)):
        # a whole section (or part) passed on counts as reading each of its keys (execution knobs aside)
        keys = [key for key in LEAVES if key == read or key.startswith(read + ".") or not read]
        undeclared += [k for k in keys if not _covered(k, declared) and not _covered(k, execution_only)]
    assert not undeclared, f"stage {name} reads undeclared params {sorted(undeclared)}"
    invalidating = [item for item in declared if _covered(item, execution_only)
                    or any(knob.startswith(item + ".") for knob in execution_only)]
    assert not invalidating, f"stage {name} declares execution-only knobs {invalidating}"


def test_the_import_walk_finds_lazy_and_transitive_imports(tmp_path):
    script = tmp_path / "stage.py"
    script.write_text("from timerft.params import load_params\n\ndef main():\n    from timerft import inference\n")
    used = modules_used(script)
    assert {"params", "inference", "grounding"} <= used  # inference imports grounding


def test_the_params_walk_follows_variables_parts_and_methods(tmp_path):
    script = tmp_path / "stage.py"
    script.write_text("every = stage_params()\na, b = every.rl, every.prompts\nx = a.grpo\nf(x)\ny = b.cot\n"
                      "z = stage_params().model.name\nrun(every.synth)\nw = every.frames.sampling()\n"
                      "v = every.evaluate.cot.get('rl')\n")
    assert params_read(script) == {"rl.grpo", "prompts.cot", "model.name", "synth", "frames", "evaluate.cot"}
