"""Quick sandboxed cross-builds of what a patch touches (issue 4).

Map (each module states its job in its first docstring line):

- arches/*.toml       the architecture matrix as data: one small file per arch (name, ARCH,
                      CROSS_COMPILE, Debian compiler package, LLVM flag, defconfig target)
- matrix.py   (pure)  load and validate the arch files
- model.py    (pure)  frozen data: BuildConfig, BuildStep, BuildJob, Diagnostic, StepResult,
                      BuildOutcome (base vs patched per job)
- planner.py  (pure)  touched objects -> controlling CONFIG symbols (reviewbot.kconfig.links.
                      controlling_config) -> arches and a config fragment that really compiles
                      them; extra steps (external-module build when kbuild scripts or the top
                      Makefile change; sparc64/alpha MODVERSIONS when export machinery changes)
- diagnostics.py (pure) parse compiler/modpost/make output; compare base vs patched by
                      normalised file, line (mapped through the diff's hunks) and text
- prepare.py  (edge)  prepared output trees cached per (tree key, arch, config) under
                      <cache>/build/; make in reviewbot.sandbox (bubblewrap: no network,
                      source read-only at a fixed path, private writable work dir, CPU/memory/
                      time limits, clean env); configs settled by olddefconfig and checked
- settle.py   (sandboxed) kconfiglib in the sandbox: the dependencies that turn symbols on
- runner.py   (edge)  run_job(JobRequest) -> BuildOutcome, what the executor calls: copies
                      the prepared tree per side, runs the steps on base and patched; the
                      patched source is a shadow tree (reviewbot.kconfig.conf.shadow_tree)
                      mounted at the same path as the base so kbuild's recorded commands do
                      not change and only changed files rebuild
- codec.py    (pure)  JSON for the plain data above (job payloads and results in the store)
- executor.py (edge)  run jobs on a local process pool or a Dask (distributed) cluster through
                      one code path; jobs are recorded in a SQLite table before submission so
                      a restart resubmits unfinished ones
- provider.py (edge)  the engine's build provider: plan -> jobs -> outcomes for rules, run
                      inline or through the executor (recorded; runner.build_job per job)
"""
