# Child process of the benchmark harness for R: one timed call, reported as JSON.
# Rscript benchmarks/_runner.R spec.json. Outside the timed region: reading the CSV
# (data.table::fread), the setup code, one warm-up call on the first warmup_rows rows.
# Timed: the code once, with system.time (elapsed). The code's value is a named list of
# numeric vectors (the estimates).
suppressMessages({library(jsonlite); library(data.table)})
spec <- fromJSON(commandArgs(TRUE)[1])
setDTthreads(1)
d <- as.data.frame(fread(spec$data))
eval(parse(text = spec$setup))
code <- parse(text = spec$code)
warm <- spec$warmup_rows
if (warm > 0) {
  full <- d
  d <- full[seq_len(min(warm, nrow(full))), , drop = FALSE]
  try(eval(code), silent = TRUE)
  d <- full
  rm(full)
}
tm <- system.time(res <- eval(code))[["elapsed"]]
pk <- loadedNamespaces()
vers <- setNames(lapply(pk, function(p) as.character(packageVersion(p))), paste0("R:", pk))
vers <- vers[names(vers) %in% paste0("R:", c("survival", "cmprsk", "data.table"))]
vers[["R"]] <- paste(R.version$major, R.version$minor, sep = ".")
blas <- tryCatch(extSoftVersion()[["BLAS"]], error = function(e) "")
st <- readLines("/proc/self/status")
hwm <- as.numeric(strsplit(trimws(sub("VmHWM:", "", st[startsWith(st, "VmHWM:")])), " +")[[1]][1])
info <- list(versions = vers, vmhwm_mb = hwm / 1024,
             threadpools = list(list(internal_api = paste("R BLAS", basename(blas)),
                                     num_threads = Sys.getenv("OPENBLAS_NUM_THREADS"))))
res <- lapply(res, function(v) as.numeric(v))
writeLines(toJSON(list(seconds = tm, estimates = res, info = info), auto_unbox = TRUE,
                  digits = NA), spec$out)
