"""Helm v4 (helm-python-sdk) behind a small `helm`-like command line.

Run through scripts/helm-render.sh, which installs the pinned venv first.

  template [NAME] CHART [flags]  `helm template`: Helm's own client-only dry-run
                                 install (values merging, values.schema.json,
                                 rendering, install-order sorting, "# Source:")
  notes    [NAME] CHART [flags]  the rendered NOTES.txt of that dry-run
  values   [NAME] CHART [flags]  the final values (defaults + -f + --set), as JSON
  lint     CHART [flags]         `helm lint --strict`: findings printed, exit 1 on
                                 any warning or error
  argocd-health SCRIPT.lua [FILE|-]  run an Argo CD Lua health script (Lua 5.1) on
                                 each YAML document, one JSON line per document

Flags of template/notes/values/lint: -n NAMESPACE, -f VALUES.yaml, --set k=v,
--set-string k=v, --set-json k=JSON, --set-file k=PATH, -s/--show-only PATH
(template only).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import helm_python as helm

DEFAULT_NAME = "release-name"


def die(msg: str) -> None:
    print(f"helm: Error: {msg}", file=sys.stderr)
    sys.exit(1)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Helm's mergeMaps: maps merge key by key, anything else is replaced."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def parse(args: list[str], positional_max: int) -> tuple[list[str], str, dict[str, Any], list[str]]:
    """Positional args, namespace, user values (in Helm's order) and --show-only."""
    positional: list[str] = []
    namespace = "default"
    files: list[str] = []
    sets: dict[str, list[str]] = {"json": [], "set": [], "string": [], "file": []}
    show_only: list[str] = []
    it = iter(args)
    for a in it:
        key, eq, inline = a.partition("=") if a.startswith("--") else (a, "", "")
        value = (lambda: inline) if eq else (lambda: next(it, None) or die(f"{key} needs a value"))
        if key in ("-n", "--namespace"):
            namespace = value()
        elif key in ("-f", "--values"):
            files.append(value())
        elif key == "--set":
            sets["set"].append(value())
        elif key == "--set-string":
            sets["string"].append(value())
        elif key == "--set-json":
            sets["json"].append(value())
        elif key == "--set-file":
            sets["file"].append(value())
        elif key in ("-s", "--show-only"):
            show_only.append(value())
        elif a.startswith("-"):
            die(f"unknown flag {a}")
        else:
            positional.append(a)
    if not 1 <= len(positional) <= positional_max:
        die(f"expected {'[NAME] ' if positional_max == 2 else ''}CHART, got {positional}")
    values: dict[str, Any] = {}
    for f in files:
        try:
            with open(f, encoding="utf-8") as fh:
                values = merge(values, helm.values_from_yaml(fh.read()) or {})
        except OSError as e:
            die(f"values file {f}: {e}")
    # Helm's order: -f, --set-json, --set, --set-string, --set-file.
    for kind, parser in (
        ("json", helm.parse_set_json),
        ("set", helm.parse_set_string),
        ("string", helm.parse_set_string_values),
        ("file", helm.parse_set_file),
    ):
        for expr in sets[kind]:
            values = merge(values, parser(expr))
    return positional, namespace, values, show_only


def dry_run(args: list[str]) -> tuple[dict[str, Any], list[str]]:
    """`helm template`: a client-only dry-run install, nothing contacted."""
    positional, namespace, values, show_only = parse(args, 2)
    name, chart = (DEFAULT_NAME, positional[0]) if len(positional) == 1 else positional
    # storage "memory" and dry-run "client": no cluster and no kubeconfig is used.
    with helm.Config(storage_driver="memory", namespace=namespace) as cfg:
        release = cfg.install(chart, name, values, namespace=namespace, dry_run="client")
    return release, show_only


def cmd_template(args: list[str]) -> None:
    release, show_only = dry_run(args)
    manifest: str = release["manifest"]
    if show_only:
        chunks = [c for c in manifest.split("---\n# Source: ") if c]
        kept = [c for c in chunks if any(c.split("\n", 1)[0].endswith("/" + s) for s in show_only)]
        if not kept:
            die(f"could not find template {show_only} in chart")
        manifest = "".join("---\n# Source: " + c for c in kept)
    sys.stdout.write(manifest)


def cmd_notes(args: list[str]) -> None:
    release, _ = dry_run(args)
    sys.stdout.write(release.get("notes") or "")


def cmd_values(args: list[str]) -> None:
    positional, _, values, _ = parse(args, 2)
    with helm.Chart.load(positional[-1]) as chart:
        merged = chart.merge_values(values)
        chart.validate_schema(values)
    print(json.dumps(merged, indent=2, sort_keys=True))


def cmd_lint(args: list[str]) -> None:
    positional, namespace, values, _ = parse(args, 1)
    report = helm.lint(positional[0], values, strict=True, namespace=namespace)
    names = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}
    failed = False
    for m in report.get("messages") or []:
        print(f"[{names.get(m['severity'], m['severity'])}] {m['path']}: {m['error']}")
        failed |= m["severity"] >= 2
    for e in report.get("errors") or []:
        print(f"[ERROR] {e}")
        failed = True
    print(f"{report.get('total_charts_linted', 0)} chart(s) linted, {int(failed)} chart(s) failed")
    sys.exit(1 if failed else 0)


def split_yaml(text: str) -> list[str]:
    docs, cur = [], []
    for line in text.splitlines():
        if line.rstrip() == "---":
            docs.append("\n".join(cur))
            cur = []
        else:
            cur.append(line)
    docs.append("\n".join(cur))
    return [d for d in docs if d.strip() and any(not l.lstrip().startswith("#") for l in d.splitlines() if l.strip())]


def cmd_argocd_health(args: list[str]) -> None:
    """Argo CD runs health scripts in gopher-lua (Lua 5.1) with the global `obj`."""
    import lupa.lua51 as lua

    if not 1 <= len(args) <= 2:
        die("usage: argocd-health SCRIPT.lua [OBJECT.yaml|-]")
    with open(args[0], encoding="utf-8") as fh:
        script = fh.read()
    if len(args) == 1 or args[1] == "-":
        text = sys.stdin.read()
    else:
        with open(args[1], encoding="utf-8") as fh:
            text = fh.read()
    for doc in split_yaml(text):
        obj = helm.values_from_yaml(doc)
        rt = lua.LuaRuntime(register_eval=False, register_builtins=False)
        # Only the libraries Argo CD opens: base, table, string, math.
        for lib in ("io", "os", "debug", "package", "require", "dofile", "loadfile"):
            rt.execute(f"{lib} = nil")
        rt.globals().obj = rt.table_from(obj, recursive=True)
        result = rt.execute(script)
        if result is None or lua.lua_type(result) != "table":
            die(f"{args[0]} did not return a table")
        print(json.dumps({"status": str(result["status"] or ""), "message": str(result["message"] or "")}))


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help", "help"):
        print(__doc__, file=sys.stderr)
        sys.exit(0 if len(sys.argv) >= 2 else 2)
    cmd, args = sys.argv[1], sys.argv[2:]
    commands = {
        "template": cmd_template,
        "notes": cmd_notes,
        "values": cmd_values,
        "lint": cmd_lint,
        "argocd-health": cmd_argocd_health,
    }
    if cmd not in commands:
        die(f"unknown command {cmd!r}")
    try:
        commands[cmd](args)
    except helm.HelmError as e:
        die(str(e))


if __name__ == "__main__":
    main()
