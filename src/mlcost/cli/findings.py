"""Commands over the waste rules and their findings: rules, recommendations."""

from __future__ import annotations

import json
import textwrap
from typing import Annotated

import typer

from mlcost.choices import STATUSES
from mlcost.cli.common import (
    _FINDING_COLUMNS,
    FormatOption,
    OutputOption,
    _ctx,
    _fmt,
    out,
    recommendations_app,
    rules_app,
)


@rules_app.callback(invoke_without_command=True)
def rules_list(ctx: typer.Context, fmt: FormatOption = None, output: OutputOption = None) -> None:
    """List the rules: the clouds each covers, the data it needs (inventory, metrics,
    prices, billing, runs), where its saving comes from (in order of preference) and its
    parameters (as mlcost.toml sets them)."""
    if ctx.invoked_subcommand:
        return
    import pyarrow as pa

    from mlcost.output import resolve_format, write_table
    from mlcost.rules import all_rules

    configured = _ctx(ctx).settings.rules
    rows = []
    for rule in all_rules().values():
        values = {**rule.defaults(), **configured.get(rule.id, {})}
        params = ", ".join(
            f"{p.name}={values[p.name]}" for p in rule.params if not isinstance(p.default, dict)
        )
        rows.append(
            {
                "rule": rule.id,
                "enabled": bool(values["enabled"]),
                "providers": " ".join(rule.providers),
                "needs": " ".join(rule.needs),
                "saving_from": " ".join(rule.saving_from),
                "finds": rule.title,
                "parameters": params,
            }
        )
    table = pa.Table.from_pylist(rows)
    chosen = resolve_format(_fmt(fmt), output)
    if chosen == "table":  # whole in 100 columns; what each finds is `rules show`'s
        table = table.drop_columns(["finds", "parameters"])
    write_table(table, fmt=chosen, output=output, console=out)
    if chosen == "table" and output is None:
        out.print(
            "What a rule finds and its parameters: mlcost rules show RULE; "
            "every column: --format csv or json.",
            markup=False,
        )


@rules_app.command("show")
def rules_show(
    ctx: typer.Context, rule_id: Annotated[str, typer.Argument(help="A rule id.")]
) -> None:
    """Print a rule's documentation and its parameters."""
    import pyarrow as pa

    from mlcost.output import write_table
    from mlcost.rules import get_rule

    rule = get_rule(rule_id)
    configured = _ctx(ctx).settings.rules.get(rule.id, {})
    out.print(f"{rule.id} ({', '.join(rule.providers)})", markup=False)
    out.print(
        f"Needs: {', '.join(rule.needs)}. Saving from: {', else '.join(rule.saving_from)}.",
        markup=False,
    )
    out.print()
    for paragraph in textwrap.dedent(rule.doc).strip().split("\n\n"):
        # the docstring's lines re-flowed to the terminal's width
        out.print(" ".join(paragraph.split()), markup=False)
        out.print()
    rows = [
        {
            "parameter": p.name,
            "value": str(configured.get(p.name, p.default)),
            "default": str(p.default),
            "meaning": p.help,
        }
        for p in rule.all_params
    ]
    write_table(pa.Table.from_pylist(rows), fmt="table", console=out, title="Parameters")
    out.print(f"Set them in mlcost.toml under [rules.{rule.id}].", markup=False)


@recommendations_app.callback(invoke_without_command=True)
def recommendations(
    ctx: typer.Context,
    rule: Annotated[
        list[str] | None, typer.Option(help="Only these rules (repeat or comma-separate).")
    ] = None,
    provider: Annotated[
        list[str] | None,
        typer.Option(
            help="Only aws, azure, gcp (or AWS, Microsoft, Google Cloud); any case, "
            "repeat or comma-separate."
        ),
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option(help="Only these accounts/subscriptions/projects, by id or bill name."),
    ] = None,
    min_savings: Annotated[
        float | None, typer.Option(help="Only findings saving at least this much a month.")
    ] = None,
    status: Annotated[
        str, typer.Option(help=f"One of {', '.join(STATUSES)}.", show_default=True)
    ] = "open",
    fmt: FormatOption = None,
    output: OutputOption = None,
) -> None:
    """List findings, largest saving first; export them with --format and --output."""
    if ctx.invoked_subcommand:
        return
    from mlcost.output import resolve_format, write_table

    table = _ctx(ctx).workspace.findings(
        rules=rule or (),
        providers=provider or (),
        accounts=account or (),
        min_savings=min_savings,
        status=status,
    )
    chosen = resolve_format(_fmt(fmt), output)
    if chosen == "table" and output is None:
        if table.num_rows == 0:
            out.print(f"No {status} findings match. Run `mlcost analyze` after loading data.")
            return
        found_currencies = table.column("currency").to_pylist()
        columns = [c for c in _FINDING_COLUMNS if c != "status" or status in ("all", "closed")]
        table = table.select(columns).rename_columns(
            ["monthly_saving" if c == "estimated_monthly_savings" else c for c in columns]
        )
        currencies = sorted({c for c in found_currencies if c})
        title = (
            f"{status.capitalize()} findings, largest saving first"
            + (f" (monthly saving in {', '.join(currencies)})" if currencies else "")
            if status != "all"
            else "Findings, largest saving first"
        )
        write_table(table, fmt=chosen, console=out, title=title)
        return
    write_table(table, fmt=chosen, output=output, console=out)


@recommendations_app.command("show")
def recommendations_show(
    ctx: typer.Context,
    rec_id: Annotated[str, typer.Argument(help="A finding's id, or a unique prefix of it.")],
) -> None:
    """Everything about one finding: the resource, the evidence, the action."""
    from mlcost.recommendations import get_recommendation

    with _ctx(ctx).store.reader() as con:
        found = get_recommendation(con, rec_id)
    for name, value in found.items():
        if value is None:
            continue
        if name == "evidence" or name == "tags":
            value = json.dumps(json.loads(value), indent=2, sort_keys=True)
        out.print(f"{name}: ", end="", markup=False)
        out.print(str(value), markup=False)


@recommendations_app.command("dismiss")
def recommendations_dismiss(
    ctx: typer.Context,
    rec_id: Annotated[str, typer.Argument(help="A finding's id.")],
    reason: Annotated[str, typer.Option(help="Why it is not waste (kept with it).")],
) -> None:
    """Dismiss a finding: it stays dismissed when analyze runs again."""
    from mlcost.recommendations import set_status

    rec_id = set_status(_ctx(ctx).store, rec_id, dismissed=True, reason=reason)
    out.print(f"Dismissed {rec_id}. Undo with: mlcost recommendations reopen {rec_id}")


@recommendations_app.command("reopen")
def recommendations_reopen(
    ctx: typer.Context, rec_id: Annotated[str, typer.Argument(help="A finding's id.")]
) -> None:
    """Reopen a dismissed finding."""
    from mlcost.recommendations import set_status

    rec_id = set_status(_ctx(ctx).store, rec_id, dismissed=False)
    out.print(f"Reopened {rec_id}.")
