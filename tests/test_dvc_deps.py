"""dvc.yaml tells the truth: each stage depends on every `timerft` module its script runs (imported anywhere in
the script, transitively within the package) and declares every params key its script reads, so that `dvc
status` flags a stage whenever a change can alter what it computes. Knobs that only change how a stage runs are
listed in EXECUTION_ONLY and must not be declared (changing them must not invalidate outputs)."""

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "timerft"
# how a stage runs, not what it computes: worker counts, launchers, logging. rl.rounds shapes the rl stages through
# their commands (init and train paths), which DVC tracks already; evaluate reads it to know which rounds to ask.
EXECUTION_ONLY = {"data": {"synth.workers"}, "frames": {"frames.workers"}, "sft": {"sft.launcher", "tracking"},
                  "rl": {"rl.launcher", "rl.rounds", "tracking"}}


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


def params_read(script: Path) -> set[str]:
    """`section.key` for each `load_params("section")[...]` read in a script (`section` when the whole section
    is used), following variables the section is assigned to."""
    tree = ast.parse(script.read_text())

    def section_of(node) -> str | None:
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "load_params":
            return node.args[0].value
        return None

    variables, assigned = {}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets = node.targets[0].elts if isinstance(node.targets[0], ast.Tuple) else node.targets
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            for target, value in zip(targets, values):
                if isinstance(target, ast.Name) and section_of(value):
                    variables[target.id] = section_of(value)
                    assigned.add(value)
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    reads = set()
    for node in ast.walk(tree):
        section = section_of(node) or (variables.get(node.id) if isinstance(node, ast.Name) else None)
        if section is None or node in assigned or (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Subscript) and isinstance(parent.slice, ast.Constant):
            reads.add(f"{section}.{parent.slice.value}")
        elif (isinstance(parent, ast.Attribute) and parent.attr == "get"
              and isinstance(parents.get(parent), ast.Call) and parents[parent].args):
            reads.add(f"{section}.{parents[parent].args[0].value}")
        else:
            reads.add(section)
    return reads


def _declared_deps(stage: dict) -> set[str]:
    return {dep for dep in stage.get("deps", []) if isinstance(dep, str)}


def _declared_params(stage: dict) -> set[str]:
    return {item for item in stage.get("params", []) if isinstance(item, str)}


def _covered(key: str, declared: set[str]) -> bool:
    return any(key == item or key.startswith(item + ".") for item in declared)


STAGES = _stages()


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
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    undeclared = []
    for read in params_read(_script(stage)):
        section, _, key = read.partition(".")
        # a whole section read counts as reading each of its keys (execution knobs aside)
        keys = [read] if key else [f"{section}.{k}" for k in params[section]]
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


def test_the_params_walk_follows_variables_and_gets(tmp_path):
    script = tmp_path / "stage.py"
    script.write_text('a, b = load_params("rl"), load_params("prompts")\nx = a["grpo"]\ny = b.get("cot")\n'
                      'z = load_params("model")["name"]\nrun(load_params("synth"))\n')
    assert params_read(script) == {"rl.grpo", "prompts.cot", "model.name", "synth"}
