# Reference values for cohortlab's competing-risks verbs (cumulative_incidence, gray_test)
# beyond tests/reference/mgus2_aalen_johansen.json: weighted Aalen-Johansen with non-integer
# weights and its infinitesimal-jackknife std.err, left truncation (a made-up entry time),
# integer weights vs replicated rows, R's CI transforms on a CIF, and Gray's test with strata
# and with three groups.
#
# Run from anywhere:  Rscript tests/reference/r/competing_weighted.R
# Writes tests/reference/competing_weighted.json (full precision, jsonlite digits = NA).

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
  library(jsonlite)
})

script_dir <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f) == 1) dirname(normalizePath(f)) else file.path("tests", "reference", "r")
})
ref_dir <- normalizePath(file.path(script_dir, ".."))

# ---------------------------------------------------------------- data
d <- read.csv(file.path(ref_dir, "data", "mgus2.csv"))
d$etime <- ifelse(d$pstat == 1, d$ptime, d$futime)
d$event <- ifelse(d$pstat == 1, 1, 2 * d$death)          # 0 censored, 1 PCM, 2 death
d$w <- 0.4 + (d$age > 70) + 0.35 * (d$id %% 3)           # non-integer case weights
d$w_int <- 1 + (d$age > 70) + (d$id %% 2)                # integer weights 1..3
d$entry <- pmin(d$etime - 0.5, (d$id %% 7) * 3)          # made-up delayed entry (< exit)
d$old <- as.integer(d$age > 70)                          # stratum for Gray's test
d$age3 <- cut(d$age, c(-Inf, 63, 75, Inf), labels = c("a", "b", "c"))
times <- c(12, 36, 60, 120, 180, 240, 300)

# ---------------------------------------------------------------- helpers
# survfit multi-state summary at `times`, by stratum, for states 2 (PCM) and 3 (death)
ms_table <- function(fit, with_ci = TRUE) {
  s <- summary(fit, times = times, extend = TRUE)
  strata <- as.character(s$strata)
  out <- list()
  for (g in unique(strata)) {
    r <- strata == g
    key <- sub("^sex=", "", g)
    one <- list()
    for (j in 2:3) {
      nm <- c("pcm", "death")[j - 1]
      x <- list(cif = unname(s$pstate[r, j]), se = unname(s$std.err[r, j]))
      if (with_ci) {
        x$lower <- unname(s$lower[r, j])
        x$upper <- unname(s$upper[r, j])
      }
      one[[nm]] <- x
    }
    one$n_times <- unname(fit$strata[g])
    out[[key]] <- one
  }
  out
}
gray_tab <- function(ci) {
  tab <- ci$Tests
  out <- list()
  for (r in rownames(tab)) {
    out[[c("1" = "pcm", "2" = "death")[[r]]]] <- list(
      stat = unname(tab[r, "stat"]), p = unname(tab[r, "pv"]), df = unname(tab[r, "df"]))
  }
  out
}

res <- list()

# ---------------------------------------------------------------- 1. weighted AJ
# at the last time (M, 424) the event-free probability comes out as -8.4e-15 (rounding), so
# its log interval is NaN and R warns; the CIFs and the rows read here are unaffected
fit_w <- suppressWarnings(
  survfit(Surv(etime, factor(event)) ~ sex, data = d, weights = w, id = id))
res$weighted <- ms_table(fit_w)

# ---------------------------------------------------------------- 2. left truncation
fit_e <- survfit(Surv(entry, etime, factor(event)) ~ sex, data = d, id = id)
res$entry <- ms_table(fit_e)

# weights and entry together
fit_we <- survfit(Surv(entry, etime, factor(event)) ~ sex, data = d, weights = w, id = id)
res$weighted_entry <- ms_table(fit_we, with_ci = FALSE)

# ---------------------------------------------------------------- 3. integer weights
fit_i <- survfit(Surv(etime, factor(event)) ~ sex, data = d, weights = w_int, id = id)
rep_rows <- d[rep(seq_len(nrow(d)), d$w_int), ]
rep_rows$rid <- seq_len(nrow(rep_rows))
fit_r <- survfit(Surv(etime, factor(event)) ~ sex, data = rep_rows, id = rid)
res$integer_weights <- ms_table(fit_i, with_ci = FALSE)
res$replicated_rows <- ms_table(fit_r, with_ci = FALSE)

# ---------------------------------------------------------------- 4. CI transforms
# log-log is undefined where a CIF is 0 (R warns "NaNs produced" and gives NA there)
fit_ll <- suppressWarnings(
  survfit(Surv(etime, factor(event)) ~ sex, data = d, id = id, conf.type = "log-log"))
fit_pl <- survfit(Surv(etime, factor(event)) ~ sex, data = d, id = id, conf.type = "plain")
res$ci_log_log <- suppressWarnings(ms_table(fit_ll))
res$ci_plain <- ms_table(fit_pl)

# ---------------------------------------------------------------- 5. Gray's test
res$gray_strata_old <- gray_tab(cuminc(d$etime, d$event, group = d$sex, strata = d$old))
ci3 <- cuminc(d$etime, d$event, group = d$age3)
res$gray_age3 <- gray_tab(ci3)
tp <- timepoints(ci3, c(60, 120, 240))
res$cuminc_age3 <- list(rows = rownames(tp$est), est = unname(tp$est), var = unname(tp$var))

out <- list(
  id = "competing_weighted",
  dataset = "MGUS (survival::mgus2)",
  data = list(
    package = paste("R survival", packageVersion("survival"), "(mgus2)"),
    loader = paste(
      "data/mgus2.csv (1384 rows). etime = ptime if pstat==1 else futime (months);",
      "event = 1 (PCM) if pstat==1 else 2*death; w = 0.4 + (age > 70) + 0.35*(id %% 3);",
      "w_int = 1 + (age > 70) + (id %% 2); entry = pmin(etime - 0.5, (id %% 7)*3);",
      "old = age > 70; age3 = cut(age, c(-Inf, 63, 75, Inf), labels = a/b/c)")
  ),
  specification = list(
    weighted = "survfit(Surv(etime, factor(event)) ~ sex, weights = w, id = id); std.err = infinitesimal jackknife",
    entry = "survfit(Surv(entry, etime, factor(event)) ~ sex, id = id)",
    weighted_entry = "survfit(Surv(entry, etime, factor(event)) ~ sex, weights = w, id = id)",
    integer_weights = "survfit(... ~ sex, weights = w_int, id = id) vs the rows replicated w_int times with distinct ids (replicated_rows)",
    ci = "conf.type 'log' (default, in weighted/entry), 'log-log' and 'plain': transform applied to the state probability itself",
    gray_strata_old = "cuminc(etime, event, group = sex, strata = old)$Tests",
    gray_age3 = "cuminc(etime, event, group = age3)$Tests; cuminc_age3: timepoints(., c(60, 120, 240)), rows '<group> <cause>'",
    times = times,
    layout = "per sex: pcm/death -> cif, se (, lower, upper) at `times` (summary.survfit, extend = TRUE); n_times = rows of the curve"
  ),
  estimates = res,
  source = paste0(R.version.string, "; survival ", packageVersion("survival"), ", cmprsk ",
                  packageVersion("cmprsk"), ", jsonlite ", packageVersion("jsonlite"),
                  "; script tests/reference/r/competing_weighted.R"),
  tolerance = list(cif = "abs 1e-8", se = "abs 1e-8", ci = "abs 1e-8",
                   gray_test = "abs 1e-6", cuminc_var = "abs 1e-10")
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(ref_dir, "competing_weighted.json"))
cat("wrote", file.path(ref_dir, "competing_weighted.json"), "\n")
