"""queue:bench: measure enqueue, drain and latency on a scratch queue (see app/bench)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from app.console.cli import cli
from app.console.output import bad_option, console, err_console, print_json

if TYPE_CHECKING:
    from rich.table import Table


@cli.command("queue:bench")
def bench(
    jobs: Annotated[int, typer.Option(help="Jobs per figure")] = 10_000,
    workers: Annotated[int, typer.Option(help="Worker processes for the drain")] = 1,
    concurrency: Annotated[int, typer.Option(help="Jobs at once per worker process")] = 10,
    latency_jobs: Annotated[int, typer.Option(help="Jobs for the latency figure")] = 200,
    backlog: Annotated[bool, typer.Option(
        help="Also drain with a large backlog waiting (slow: inserts --backlog-rows rows)")
    ] = False,
    backlog_rows: Annotated[int, typer.Option(help="Rows waiting in the backlog figure")
                            ] = 1_000_000,
    middleware: Annotated[bool, typer.Option(
        help="Also drain jobs with one no-op middleware, and measure RateLimited (+12 s)")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds a drain may take")] = 300.0,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON only")] = False,
) -> None:
    """Measure this queue on the configured database; leaves the database as it was."""
    from app.bench import BenchOptions, run_bench
    from app.bench.figures import BACKLOG_SMALL

    for option, value, least in (("jobs", jobs, 1), ("workers", workers, 1),
                                 ("concurrency", concurrency, 1),
                                 ("latency-jobs", latency_jobs, 1),
                                 ("backlog-rows", backlog_rows, BACKLOG_SMALL + 1)):
        if value < least:
            bad_option(f"--{option}", f"must be at least {least:,}, not {value:,}")
    if not timeout > 0:
        bad_option("--timeout", f"must be more than 0, not {timeout:g}")
    options = BenchOptions(jobs=jobs, workers=workers, concurrency=concurrency,
                           latency_jobs=latency_jobs, backlog=backlog,
                           backlog_rows=backlog_rows, middleware=middleware, timeout=timeout)
    progress = (lambda line: None) if json_output else \
        (lambda line: err_console().print(f"  [dim]{line} …[/dim]"))
    try:
        result = run_bench(options, progress)
    except KeyboardInterrupt:
        err_console().print("interrupted: the scratch queue and its workers were removed")
        raise typer.Exit(130) from None
    if json_output:
        print_json(result)
    else:
        console().print(table(result))


def drain_detail(d: dict[str, Any]) -> str:
    cpu = d["worker_cpu_s_per_1000_jobs"]
    return (f"{d['jobs']:,} jobs in {d['seconds']:.3f} s, each ran exactly once"
            + (f"; worker CPU {cpu:.2f} s per 1,000 jobs" if cpu is not None else ""))


def table(r: dict[str, Any]) -> Table:
    from rich.table import Table

    db, s = r["database"], r["settings"]
    title = (f"Skiplock on PostgreSQL {db['version']} ({db['server']}, synchronous_commit="
             f"{db['synchronous_commit']}, fsync={db['fsync']}"
             f"{'' if s['checkpoint'] else ', no CHECKPOINT: not allowed'})")
    t = Table(title=title, title_justify="left")
    t.add_column("figure")
    t.add_column("result", justify="right")
    t.add_column("detail", style="dim")
    e, b, d, lat = r["enqueue"], r["enqueue_bulk"], r["drain"], r["latency"]
    t.add_row("enqueue, one dispatch() per job", f"{e['jobs_per_s']:,} jobs/s",
              f"{e['jobs']:,} jobs in {e['seconds']:.2f} s")
    u = r["enqueue_unique"]
    t.add_row("unique enqueue, one dispatch() per unique job", f"{u['jobs_per_s']:,} jobs/s",
              f"{u['jobs']:,} jobs in {u['seconds']:.2f} s "
              f"({u['jobs_per_s'] / e['jobs_per_s']:.0%} of enqueue)")
    t.add_row("bulk enqueue, dispatch_many()", f"{b['jobs_per_s']:,} jobs/s",
              f"{b['jobs']:,} jobs in {b['seconds']:.3f} s")
    t.add_row(f"drain, {s['workers']} worker process{'es' if s['workers'] > 1 else ''} "
              f"at concurrency {s['concurrency']}", f"{d['jobs_per_s']:,} jobs/s",
              drain_detail(d))
    bd, bdr = r["batch_dispatch"], r["batch_drain"]
    t.add_row("batch dispatch, one batch() of all the jobs", f"{bd['jobs_per_s']:,} jobs/s",
              f"{bd['jobs']:,} jobs in {bd['seconds']:.3f} s")
    t.add_row("batch drain, same workers", f"{bdr['jobs_per_s']:,} jobs/s",
              f"{bdr['jobs_per_s'] / d['jobs_per_s']:.0%} of the drain; the batch counted "
              f"to its end; {drain_detail(bdr)}")
    grid = f"{lat['jobs']} jobs {lat['interval_ms']:g} ms apart, idle worker"
    if not lat["worker_settings"]["listen_notify"]:
        grid += f" polling every {lat['worker_settings']['sleep_s']:g} s (QUEUE_LISTEN=false)"
    t.add_row("latency, committed dispatch → start: median", f"{lat['median_ms']:.2f} ms", grid)
    t.add_row("latency, committed dispatch → start: p99", f"{lat['p99_ms']:.2f} ms",
              f"max {lat['max_ms']:.2f} ms; first job of a fresh worker "
              f"{lat['cold_first_job_ms']:.2f} ms")
    if r["backlog"] is not None:
        bl = r["backlog"]
        small, large = bl["small"], bl["large"]
        t.add_row(f"drain with {large['waiting_rows']:,} waiting ÷ with "
                  f"{small['waiting_rows']:,}", f"{bl['ratio']:.2f}",
                  f"{large['jobs_per_s']:,} vs {small['jobs_per_s']:,} jobs/s")
    if r["middleware"] is not None:
        noop, rate = r["middleware"]["noop_drain"], r["middleware"]["rate_limited"]
        t.add_row("drain, one no-op middleware ÷ plain drain", f"{noop['of_plain']:.2f}",
                  f"{noop['jobs_per_s']:,} jobs/s")
        t.add_row(f"RateLimited({rate['limit']} per {rate['per_s']:g} s): started ÷ allowed",
                  f"{rate['accuracy']:.2f}",
                  f"{rate['started']} started in {rate['seconds']:g} s with "
                  f"{rate['jobs_waiting']:,} waiting")
        for half in ("first_half", "second_half"):
            h = rate[half]
            t.add_row(f"RateLimited: claims/s, {half.replace('_', ' ')}",
                      f"{h['claims_per_s']:g}", f"worker CPU {h['worker_cpu_pct']}% of a core")
    return t
