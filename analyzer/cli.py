"""Command line: parses options, calls the library, maps its errors to exit codes.

Exit codes: 0 nothing at error or worse; 1 findings at error or worse; 2 the
input could not be read or the arguments are wrong.
"""

from __future__ import annotations

import os
import re
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import click

from analyzer import __version__
from analyzer.errors import BundleError

EXIT_INPUT = 2


# Characters that act on a terminal instead of printing (C0 and C1 controls
# but tab and newline, DEL, and the bidirectional overrides that reorder what
# is shown): bundle text carrying them is written as \uXXXX, which is also a
# valid escape inside a JSON string.
_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    return _TERMINAL_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class Failure(click.ClickException):
    """A one-line error with exit code 2."""

    exit_code = EXIT_INPUT

    def show(self, file=None) -> None:
        message = " ".join(terminal_safe(self.format_message()).split())
        click.echo(f"gitops-master: error: {message}", err=True)


def _parse_at(ctx, param, value: str | None) -> datetime | None:
    if value is None:
        return None
    from analyzer.bundle import REFERENCE_YEARS, parse_time, usable_reference

    parsed = parse_time(value)
    if parsed is None:
        raise click.BadParameter(f"{value!r} is not an RFC 3339 time such as 2026-11-20T03:12:45Z")
    if not usable_reference(parsed):
        raise click.BadParameter(f"{value!r} is outside the years {REFERENCE_YEARS[0]}-{REFERENCE_YEARS[1]}")
    return parsed


def _parse_duration(ctx, param, value: str | None):
    if value is None:
        return None
    from analyzer.settings import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _parse_size(ctx, param, value: str | None) -> int | None:
    if value is None:
        return None
    units = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
    text = value.strip().lower().removesuffix("ib").removesuffix("b")
    unit = text[-1:] if text[-1:] in units and not text[-1:].isdigit() else ""
    number = text[: len(text) - len(unit)]
    if not number.isdigit():
        raise click.BadParameter(f"{value!r} is not a size such as 512M or 4G")
    return int(number) * units[unit]


def _parse_thresholds(ctx, param, values):
    from analyzer.settings import parse_threshold

    try:
        return dict(parse_threshold(v) for v in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def cap_option_list():
    """The caps that bound memory and time on a hostile bundle (analyzer.bundle.Limits)."""
    return [
        click.option("--max-file-size", callback=_parse_size, metavar="SIZE",
                     help="Skip bundle files larger than this (default 512M)."),
        click.option("--max-bundle-size", callback=_parse_size, metavar="SIZE",
                     help="Refuse bundles that expand past this (default 4G)."),
        click.option("--max-members", type=click.IntRange(1), metavar="N",
                     help="Refuse archives or directories with more entries than this (default 200000)."),
        click.option("--max-ratio", type=click.IntRange(1), metavar="N",
                     help="Refuse an archive that expands more than N times its compressed size (default 200)."),
        click.option("--max-depth", type=click.IntRange(1, 250), metavar="N",
                     help="Skip loose objects nested deeper than this (default 200)."),
        click.option("--max-yaml-nodes", type=click.IntRange(1), metavar="N",
                     help="Refuse a YAML document whose anchors and aliases expand past this many nodes "
                          "(default 1000000)."),
    ]


DEBUG_OPTION = click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks of internal errors.")


def cap_options(fn):
    for option in reversed(cap_option_list()):
        fn = option(fn)
    return fn


def common_options(fn):
    options = [
        click.argument("path", type=click.Path(path_type=str)),
        click.option("--at", "at", callback=_parse_at, metavar="TIME",
                     help="Judge ages at this RFC 3339 instant instead of the bundle's collection time."),
        click.option("--stage", metavar="NAME", help="Only this Stage (and bundle-wide gaps)."),
        click.option("--stuck-after", callback=_parse_duration, metavar="DURATION",
                     help="A Promotion running longer than this is stuck (default 15m)."),
        click.option("--threshold", "thresholds", multiple=True, callback=_parse_thresholds, metavar="NAME=VALUE",
                     help="Override a rule threshold, e.g. operation_stuck_after=45m (repeatable; "
                          "`gitops-master thresholds` lists them)."),
        *cap_option_list(),
        DEBUG_OPTION,
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


class Progress:
    """Phases on stderr, only when a run takes more than a second and a person is watching."""

    DELAY = 1.0

    def __init__(self, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, phase: str) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        if elapsed >= self.DELAY:
            click.echo(f"gitops-master: {phase} ({elapsed:.1f}s)", err=True)
            self.shown = True

    def done(self) -> None:
        if self.shown:
            click.echo(f"gitops-master: done in {time.monotonic() - self.started:.1f}s", err=True)


def _limits(max_file_size=None, max_bundle_size=None, max_members=None, max_depth=None, max_yaml_nodes=None,
            max_ratio=None):
    """The caps from their flags; a flag not given keeps its default."""
    from analyzer.bundle import Limits

    given = {"max_file_bytes": max_file_size, "max_total_bytes": max_bundle_size, "max_members": max_members,
             "max_depth": max_depth, "max_yaml_nodes": max_yaml_nodes, "max_ratio": max_ratio}
    return Limits(**{k: v for k, v in given.items() if v})


def _analyze(path, at=None, stage=None, stuck_after=None, max_file_size=None, max_bundle_size=None, thresholds=None,
             progress=None, max_members=None, max_depth=None, max_yaml_nodes=None, max_ratio=None):
    from analyzer.analysis import analyze
    from analyzer.settings import Settings

    limits = _limits(max_file_size, max_bundle_size, max_members, max_depth, max_yaml_nodes, max_ratio)
    overrides = dict(thresholds or {})
    if stuck_after:
        overrides["promotion_stuck_after"] = stuck_after
    settings = Settings(**overrides)
    return analyze(path, at=at, stage=stage, settings=settings, limits=limits, progress=progress)


def _emit(text: str, output: str | None) -> None:
    text = terminal_safe(text)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise Failure(f"{output}: cannot write the report ({exc.strerror or exc})") from None
    click.echo(terminal_safe(f"wrote {output}"), err=True)


def _internal_error(exc: BaseException, path: str, debug: bool) -> Failure:
    """A bug (or a library's panic on hostile input) still ends in one clear line."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
        raise exc
    if debug:
        traceback.print_exc()
    if isinstance(exc, MemoryError):
        return Failure(f"{path}: ran out of memory while analysing it; lower --max-bundle-size and --max-file-size "
                       "to refuse inputs this large")
    detail = str(exc).strip().splitlines()
    return Failure(f"internal error while analysing {path}: {type(exc).__name__}: {detail[0][:300] if detail else ''} "
                   "(run with --debug for the traceback)")


@contextmanager
def _one_line_errors(path: str, debug: bool) -> Iterator[None]:
    """Whatever goes wrong inside ends in one line with exit code 2: the input's own error as the
    library words it, anything else as an internal error (polars panics are BaseExceptions)."""
    try:
        yield
    except BundleError as exc:
        raise Failure(str(exc)) from None
    except (KeyboardInterrupt, click.ClickException):
        raise
    except BaseException as exc:  # noqa: BLE001
        raise _internal_error(exc, path, debug) from None


def _run(command: str, fmt: str, output: str | None, debug: bool, **kwargs) -> None:
    from analyzer.render import render_analysis

    progress = Progress()
    with _one_line_errors(kwargs["path"], debug):
        analysis = _analyze(**kwargs, progress=progress)
        progress(f"rendering {fmt}")
        _emit(render_analysis(analysis, fmt, command=command), output)
        progress.done()
    sys.exit(analysis.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gitops-master")
def main() -> None:
    """Offline snapshot analyzer for Kargo and Argo CD pipelines.

    Point it at a bundle from collector.sh (a .tar.gz or its directory), a
    troubleshoot support bundle, or any YAML/JSON of Kubernetes objects.

    \b
    Example:
      gitops-master diagnose sample_bundles/poisoned-promotion
    """


@main.command()
@common_options
@click.option("--format", "fmt", type=click.Choice(["text", "md", "html", "json", "junit"]), default=None,
              help="Output format (default text, or from -o's extension).")
@click.option("-o", "--output", metavar="FILE", help="Write the report to FILE instead of stdout.")
def diagnose(path, fmt, output, debug, **kwargs):
    """Why is it stuck: the decision tree over every Stage, one DIAGNOSIS block per stuck Stage.

    \b
    Examples:
      gitops-master diagnose bundle.tar.gz
      gitops-master diagnose bundle.tar.gz --stage prod --format json
      gitops-master diagnose ticket.yaml --at 2026-11-20T03:12:45Z
    """
    from analyzer.render import format_for_path

    fmt = fmt or (format_for_path(output) if output else None) or "text"
    _run("diagnose", fmt, output, debug, path=path, **kwargs)


@main.command()
@common_options
@click.option("-o", "--output", metavar="FILE", required=True,
              help="Report file; the format comes from its extension (.html, .md, .json, .txt, .xml for JUnit).")
def report(path, output, debug, **kwargs):
    """Everything in one document, format picked from -o's extension.

    \b
    Example:
      gitops-master report bundle.tar.gz -o report.html
    """
    from analyzer.render import format_for_path

    fmt = format_for_path(output)
    if fmt is None:
        raise Failure(f"{output}: unknown report extension; use .html, .md, .json, .txt or .xml (JUnit)")
    _run("report", fmt, output, debug, path=path, **kwargs)


@main.command()
@click.argument("path", type=click.Path(path_type=str))
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Port on 127.0.0.1 (0 picks a free one).")
@click.option("--kubeconfig-out", metavar="FILE", help="Write the kubeconfig here (default: a temporary file removed on exit).")
@click.option("--request-log", metavar="FILE", help="Append every request (method, path, status) as JSON lines.")
@click.option("--uncollected", type=click.Choice(["notfound", "empty"]), default="notfound", show_default=True,
              help="What a list of something the bundle does not hold returns: a 404 saying it was not collected, or an empty list.")
@click.option("--deny", multiple=True, metavar="RESOURCE[:NAMESPACE]", help="Answer 403 Forbidden for this resource (testing).")
@click.option("--delay", multiple=True, metavar="RESOURCE=SECONDS", help="Wait before answering this resource (testing).")
def serve(path, port, kubeconfig_out, request_log, uncollected, deny, delay):
    """Serve a bundle as a read-only Kubernetes API on 127.0.0.1 for kubectl.

    Ages in `kubectl get` are measured from the snapshot's collection time.
    Only GET is answered; anything else gets 405.

    \b
    Example:
      gitops-master serve sample_bundles/poisoned-promotion --kubeconfig-out /tmp/bundle.kubeconfig
      KUBECONFIG=/tmp/bundle.kubeconfig kubectl get stages -A
    """
    from analyzer import serve as server

    try:
        server.serve_forever(path, port=port, deny=server.parse_deny(list(deny)), delay=server.parse_delay(list(delay)),
                             kubeconfig_out=kubeconfig_out, request_log=request_log, uncollected=uncollected)
    except BundleError as exc:
        raise Failure(str(exc)) from None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    except OSError as exc:
        raise Failure(f"cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}") from None



# ------------------------------------------------------------ verify, promote-check, setup, ask
#
# Exit codes of these modes: verify 0 every Stage PASS, 1 a Stage FAILs, 3 no
# FAIL but a check is UNKNOWN (its data was not collected); promote-check 0 GO,
# 1 NO-GO, 3 UNKNOWN; lint 1 when a finding is at --fail-on or worse, else 0;
# ask 0 routed, 1 ambiguous or no mode matched. 2 is always bad input.

MODE_FORMATS = ["text", "md", "html", "json", "junit"]


def _mode(command: str, fmt: str | None, output: str | None, debug: bool, build, **kwargs) -> None:
    """Analyse, build the mode's context with ``build(analysis)``, render it, exit with its code."""
    from analyzer.modes.output import render_mode
    from analyzer.render import format_for_path

    fmt = fmt or (format_for_path(output) if output else None) or "text"
    if fmt not in MODE_FORMATS:
        raise Failure(f"{command} writes {', '.join(MODE_FORMATS)}; not {fmt}")
    with _one_line_errors(kwargs["path"], debug):
        try:
            context, template = build(_analyze(**kwargs))
            _emit(render_mode(context, template, fmt), output)
        except ValueError as exc:  # the library's own "no such Stage" and argument errors
            if debug:
                traceback.print_exc()
            raise Failure(str(exc)) from None
    sys.exit(context.exit_code)


def mode_format_options(fn):
    fn = click.option("-o", "--output", metavar="FILE", help="Write the report to FILE instead of stdout.")(fn)
    return click.option("--format", "fmt", type=click.Choice(MODE_FORMATS), default=None,
                        help="Output format (default text, or from -o's extension).")(fn)


@main.command()
@common_options
@mode_format_options
@click.option("--quick", is_flag=True, help="Levels 1 and 2 only (the playbook's quick verification).")
def verify(path, fmt, output, debug, quick, **kwargs):
    """Is it up: the 4-level verification per Stage (V1-V4), one VERIFICATION REPORT each.

    Stops at the first failing level; a check whose data the bundle lacks is
    UNKNOWN, never PASS. Exit code 0 all PASS, 1 a Stage FAILs, 3 UNKNOWN.

    \b
    Examples:
      gitops-master verify bundle.tar.gz
      gitops-master verify bundle.tar.gz --stage prod --quick
    """
    from analyzer.modes.verify import verify as build

    _mode("verify", fmt, output, debug, lambda analysis: (build(analysis, quick=quick), "verify"), path=path, **kwargs)


@main.command("promote-check")
@common_options
@mode_format_options
@click.option("--freight", metavar="NAME", help="Freight name, alias or 7+ character prefix (default: the newest verified upstream).")
def promote_check(path, fmt, output, debug, freight, **kwargs):
    """May this Freight be promoted now: every DO NOT PROMOTE IF rule (P1), how (P2), progress (P3), after (P4).

    Exit code 0 GO, 1 NO-GO, 3 UNKNOWN (a rule could not be evaluated).

    \b
    Examples:
      gitops-master promote-check bundle.tar.gz --stage prod
      gitops-master promote-check bundle.tar.gz --stage prod --freight sunny-mantis --format json
      gitops-master promote-check bundle.tar.gz --stage kargo-demo/prod   # a name several projects use
    """
    from analyzer.modes.promote import promote_check as build

    if not kwargs.get("stage"):
        raise click.UsageError("promote-check needs --stage: the Stage to promote to")
    stage = kwargs["stage"]
    # Every Stage's findings matter here (a down controller blocks all of them): analyse unfiltered.
    _mode("promote-check", fmt, output, debug, lambda analysis: (build(analysis, stage, freight), "promote"),
          path=path, **{**kwargs, "stage": None})


@main.command()
@common_options
@mode_format_options
@click.option("--fail-on", type=click.Choice(["error", "warning"]), default="error", show_default=True,
              help="Exit 1 when a finding is at this severity or worse.")
def lint(path, fmt, output, debug, fail_on, **kwargs):
    """Is it configured right: the pipeline tree (S1) and the setup lint of every Stage (S2, S4, anti-patterns).

    Each finding says what to change in git. Exit code 1 when a finding is at
    --fail-on or worse (default error: a Promotion will be refused or fail).

    \b
    Examples:
      gitops-master lint bundle.tar.gz
      gitops-master lint bundle.tar.gz --format md -o lint.md --fail-on warning
    """
    from analyzer.modes.lint import lint as build

    _mode("lint", fmt, output, debug, lambda analysis: (build(analysis, fail_on=fail_on), "lint"), path=path, **kwargs)


@main.group()
def scaffold():
    """Generate objects for git (S2-S4)."""


@scaffold.command("stage")
@click.option("--project", required=True, help="Kargo project.")
@click.option("--name", required=True, help="Name of the new Stage.")
@click.option("--upstream", multiple=True, metavar="STAGE", help="Stage(s) it takes verified Freight from; none: directly from the Warehouse.")
@click.option("--app", "apps", multiple=True, required=True, metavar="APP", help="Argo CD Application it promotes (repeat for more).")
@click.option("--warehouse", help="Warehouse the Freight comes from (default: the project name).")
@click.option("--namespace", help="Project namespace (default: the project name).")
@click.option("--argocd-namespace", default="argocd", show_default=True, help="Namespace of the Argo CD Applications.")
@click.option("--app-namespace", help="Namespace the Stage's workloads run in, checked by the verification (default: the Stage name).")
@click.option("--image", default=None, help="Image of the verification Job (default alpine/k8s:latest, as in the playbook).")
@click.option("-o", "--output", "directory", metavar="DIR", help="Write one file per object kind into DIR instead of printing them.")
def scaffold_stage(project, name, upstream, apps, warehouse, namespace, argocd_namespace, app_namespace, image, directory):
    """A Stage with argocd-update retry from the tuning table, its AnalysisTemplate, and the verification RBAC.

    \b
    Example:
      gitops-master scaffold stage --project kargo-demo --name monitoring --upstream operators \
        --app kube-prometheus-stack --app loki --warehouse platform-apps -o ./kargo/monitoring
    """
    from analyzer.scaffold import DEFAULT_IMAGE, ScaffoldError, as_stream, render_scaffold, scaffold_stage as build, write_scaffold

    try:
        context = build(project, name, list(apps), list(upstream), warehouse, namespace, argocd_namespace, app_namespace,
                        image or DEFAULT_IMAGE)
        files = render_scaffold(context)
        for note in context.notes:
            click.echo(f"note: {note}", err=True)
        if directory:
            for written in write_scaffold(files, directory):
                click.echo(f"wrote {written}", err=True)
        else:
            click.echo(as_stream(files), nl=False)
    except ScaffoldError as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(f"{directory}: cannot write ({exc.strerror or exc})") from None


@main.command()
@click.argument("text")
@click.option("--bundle", metavar="PATH", help="Fill the command with this bundle and its Stage names.")
@click.option("--run", "run_it", is_flag=True, help="Run the command (needs --bundle and no placeholder left).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output format.")
def ask(text, bundle, run_it, fmt):
    """Which mode answers TEXT (the playbook's mode table), and the command that does; never assumes diagnose.

    Prints the command; runs it only with --run. Exit code 0 routed, 1
    ambiguous or no match (the candidates are listed).

    \b
    Examples:
      gitops-master ask "is prod up?"
      gitops-master ask "may I promote this freight to prod?" --bundle bundle.tar.gz --run
    """
    from analyzer.modes.ask import route
    from analyzer.modes.output import render_mode

    stages, project = None, None
    if bundle:
        try:
            analysis = _analyze(bundle)
        except BundleError as exc:
            raise Failure(str(exc)) from None
        stages = analysis.frames.stages.get_column("name").to_list()
        project = analysis.frames.environment.get("kargo_project")
    context = route(text, bundle=bundle, stages=stages, project=project)
    click.echo(terminal_safe(render_mode(context, "ask", fmt)), nl=False)
    if run_it:
        if context.outcome != "routed":
            sys.exit(context.exit_code)
        if context.placeholders:
            raise Failure(f"cannot run: fill in {', '.join(context.placeholders)} first" + ("" if bundle else " (pass --bundle)"))
        click.echo("", err=True)
        main(args=list(context.argv), prog_name="gitops-master")
    sys.exit(context.exit_code)

@main.command()
@click.argument("path", type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: one line per value; json: an object with every find.")
@cap_options
@DEBUG_OPTION
def scan(path, fmt, debug, **caps):
    """Find secret-looking content in a bundle; exit 1 when there is any.

    Uses collector.sh's redaction rules plus values of Secret objects, cloud
    and Git host tokens and random-looking values under suspicious keys.
    Each find names the file, the object and field (JSON) or the line, and
    the rule; never the value: at most its first 2 characters and its length.
    Exit code 0 nothing found, 1 found, 2 unreadable (or content left unscanned).

    \b
    Example:
      gitops-master scan bundle.tar.gz
    """
    from analyzer.secrets import content_skipped, scan_bundle, summarize

    with _one_line_errors(path, debug):
        result = scan_bundle(path, _limits(**caps))
    unscanned = [p for p in result.skipped if content_skipped(p)]
    for problem in result.skipped:
        click.echo(terminal_safe(f"gitops-master: not scanned: {problem.path}: {problem.message}"), err=True)
    if fmt == "json":
        import json

        body = {"source": result.source, "layout": result.layout, "files": result.files,
                "findings": [h.to_dict() for h in result.hits], "counts": summarize(result.hits),
                "not_scanned": [{"path": p.path, "why": p.message} for p in result.skipped]}
        click.echo(terminal_safe(json.dumps(body, indent=2)))
    else:
        for hit in result.hits:
            click.echo(terminal_safe(f"{hit.file}: {hit.where}: {hit.rule}: {hit.hint}"))
        files = len({h.file for h in result.hits})
        if result.hits:
            rules = ", ".join(f"{rule} {n}" for rule, n in summarize(result.hits).items())
            click.echo(terminal_safe(f"{len(result.hits)} secret-looking value(s) in {files} of {result.files} file(s): {rules}. "
                                     f"`gitops-master redact {path} -o REDACTED.tar.gz` writes a copy without them."))
        else:
            click.echo(terminal_safe(f"nothing secret-looking in {result.files} file(s)."))
    if result.hits:
        sys.exit(1)
    if unscanned:
        raise Failure(f"{path}: {len(unscanned)} file(s) could not be scanned (see above); raise the caps to scan them")
    sys.exit(0)


@main.command()
@click.argument("path", type=click.Path(path_type=str))
@click.option("-o", "--output", metavar="OUT.tar.gz", required=True, help="The redacted bundle to write.")
@click.option("--mapping", metavar="FILE",
              help="Also write token -> original value here (JSON, mode 0600). Keep it apart from the bundle.")
@cap_options
@DEBUG_OPTION
def redact(path, output, mapping, debug, **caps):
    """Write a copy of a bundle with every secret-looking value replaced.

    For a support engineer before passing a bundle on. Takes a bundle .tar.gz
    or directory (or a loose file) and writes a .tar.gz with the same layout.
    Each value becomes ***REDACTED-<rule>-<n>***, the same token for the same
    value everywhere; manifest.json gets this pass's counts and the new size
    and sha256 of every rewritten file. The mapping back to the originals is
    written only with --mapping. Links, devices and paths that escape the
    bundle are left out.

    \b
    Example:
      gitops-master redact bundle.tar.gz -o bundle-redacted.tar.gz
      gitops-master scan bundle-redacted.tar.gz
    """
    from analyzer.secrets import redact_bundle

    with _one_line_errors(path, debug):
        try:
            result = redact_bundle(path, output, _limits(**caps), mapping=mapping)
        except OSError as exc:
            raise Failure(f"{exc.filename or output}: cannot write ({exc.strerror or exc})") from None
    for problem in result.dropped:
        click.echo(terminal_safe(f"gitops-master: left out: {problem.path}: {problem.message}"), err=True)
    rules = ", ".join(f"{rule} {n}" for rule, n in sorted(result.counts.items())) or "none"
    # The manifest is rewritten for its counts and hashes; it held none of the values.
    holding = [name for name in result.rewritten if not name.endswith("manifest.json")]
    click.echo(terminal_safe(f"redacted {sum(result.counts.values())} value(s) ({result.distinct} distinct) in "
                             f"{len(holding)} of {result.files} file(s): {rules}"), err=True)
    if mapping:
        click.echo(terminal_safe(f"wrote the token mapping to {mapping} (mode 0600): it holds the secrets"), err=True)
    click.echo(terminal_safe(f"wrote {result.output}"), err=True)


@main.command()
def thresholds():
    """List the rule thresholds and their defaults (override with --threshold NAME=VALUE)."""
    from analyzer.settings import describe_thresholds

    for name, default, meaning in describe_thresholds():
        click.echo(f"{name} = {default}\n    {meaning}")


if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
