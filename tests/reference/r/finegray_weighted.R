# Reference values for (case-)weighted Fine-Gray regression on mgus2 (PCM, death competing).
#
# Run from anywhere:  Rscript tests/reference/r/finegray_weighted.R
# Writes tests/reference/finegray_weighted.json (full precision, jsonlite digits = NA).

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
mg <- read.csv(file.path(ref_dir, "data", "mgus2.csv"))
mg$etime <- ifelse(mg$pstat == 1, mg$ptime, mg$futime)
mg$event <- ifelse(mg$pstat == 1, 1, 2 * mg$death)
full <- mg[, c("id", "etime", "event", "age", "sex", "mspike")]
cc <- full[complete.cases(full), ]             # 1373 rows (11 missing mspike)
rownames(cc) <- NULL

counts <- function(d) list(n = nrow(d), n_pcm = sum(d$event == 1), n_death = sum(d$event == 2),
                           n_censored = sum(d$event == 0))

# ---------------------------------------------------------------- helpers
fg_fit <- function(fgdata, wt, ties = "efron") {
  fgdata$.w <- wt
  coxph(Surv(fgstart, fgstop, fgstatus) ~ sex + age + mspike, data = fgdata, weights = .w,
        cluster = id, ties = ties)
}
coef_table <- function(fit) {
  b <- coef(fit)
  se_m <- sqrt(diag(fit$naive.var))
  se_r <- sqrt(diag(fit$var))
  out <- list()
  for (j in seq_along(b)) {
    out[[names(b)[j]]] <- list(coef = unname(b[j]), se_model = unname(se_m[j]),
                               se_robust = unname(se_r[j]))
  }
  out
}
fit_summary <- function(fit, fgdata) {
  list(terms = coef_table(fit), loglik = fit$loglik, n_rows = fit$n, n_events = fit$nevent,
       n_subjects = length(unique(fgdata$id)))
}
# Censoring "survival" G(t) of the finegray construction, optionally case weighted:
# censorings at a time happen after the events at that time.
cens_km <- function(time, event, w) {
  ct <- sort(unique(time[event == 0]))
  o <- order(time)
  # weighted number at risk for censoring at u: time > u, or time == u and censored
  tot_ge <- rev(cumsum(rev(tapply(w[o], time[o], sum))))           # sum w with time >= t
  ut <- as.numeric(names(tot_ge))
  ev_at <- tapply(w[event != 0], time[event != 0], sum)
  ce_at <- tapply(w[event == 0], time[event == 0], sum)
  at_risk <- tot_ge[match(ct, ut)] - ifelse(is.na(ev_at[as.character(ct)]), 0,
                                            ev_at[as.character(ct)])
  list(time = ct, surv = unname(cumprod(1 - ce_at[as.character(ct)] / at_risk)))
}
g_at <- function(G, t, left_open = FALSE) {
  i <- findInterval(t, G$time, left.open = left_open)
  ifelse(i == 0, 1, G$surv[pmax(i, 1)])
}
# finegray weights recomputed from a censoring curve G: for rows of a competing-event subject
# that start at or after its event time T, wt = G(fgstart) / G(T-); all other rows 1.
fg_weights_from <- function(fgdata, src, G) {
  m <- match(fgdata$id, src$id)
  T <- src$etime[m]
  comp <- src$event[m] == 2 & fgdata$fgstart >= T
  ifelse(comp, g_at(G, fgdata$fgstart) / g_at(G, T, left_open = TRUE), 1)
}

res <- list()
ws <- list()

# ---------------------------------------------------------------- 1. unweighted
fg_cc <- finegray(Surv(etime, factor(event)) ~ ., data = cc, etype = "1")
fg_full <- finegray(Surv(etime, factor(event)) ~ ., data = full, etype = "1")
fit1 <- fg_fit(fg_cc, fg_cc$fgwt)
fit1b <- fg_fit(fg_cc, fg_cc$fgwt, ties = "breslow")
fit1_full <- fg_fit(fg_full, fg_full$fgwt)
G1 <- cens_km(cc$etime, cc$event, rep(1, nrow(cc)))
# the vignette calls (no cluster): coxph's default robust variance for non-integer weights then
# treats every finegray row as its own cluster
no_cluster <- function(f, d) coxph(f, data = d, weights = fgwt)
v_sex <- no_cluster(Surv(fgstart, fgstop, fgstatus) ~ sex, fg_full)
v_sex_cl <- coxph(Surv(fgstart, fgstop, fgstatus) ~ sex, data = fg_full, weights = fgwt,
                  cluster = id)
v_mv <- no_cluster(Surv(fgstart, fgstop, fgstatus) ~ sex + age + mspike, fg_full)
v_mv_cc <- no_cluster(Surv(fgstart, fgstop, fgstatus) ~ sex + age + mspike, fg_cc)
res$unweighted <- list(
  complete_cases = fit_summary(fit1, fg_cc),
  complete_cases_breslow = list(terms = coef_table(fit1b), loglik = fit1b$loglik),
  all_1384_rows_censoring_km = fit_summary(fit1_full, fg_full),
  sex_only_all_1384_rows = list(
    coef = unname(coef(v_sex)), se_model = unname(sqrt(diag(v_sex$naive.var))),
    se_robust_cluster_id = unname(sqrt(diag(v_sex_cl$var))),
    se_robust_no_cluster_row_level = unname(sqrt(diag(v_sex$var))),
    term = names(coef(v_sex))
  ),
  no_cluster_row_level_robust_se = list(
    all_1384_rows = as.list(setNames(sqrt(diag(v_mv$var)), names(coef(v_mv)))),
    complete_cases = as.list(setNames(sqrt(diag(v_mv_cc$var)), names(coef(v_mv_cc))))
  ),
  finegray_rows = nrow(fg_cc), finegray_rows_all_1384 = nrow(fg_full),
  finegray_event_label = attr(fg_cc, "event"),
  check_fgwt_rebuilt_from_censoring_km_max_abs_diff =
    max(abs(fg_weights_from(fg_cc, cc, G1) - fg_cc$fgwt))
)

# ---------------------------------------------------------------- 2. case weighted
cc$w <- 0.5 + (cc$age > 70) + 0.3 * (cc$sex == "M")
wi <- cc$w[match(fg_cc$id, cc$id)]
fit2 <- fg_fit(fg_cc, fg_cc$fgwt * wi)
fit2b <- fg_fit(fg_cc, fg_cc$fgwt * wi, ties = "breslow")
fg_cc_w <- finegray(Surv(etime, factor(event)) ~ ., data = cc, etype = "1", weights = w)
Gw <- cens_km(cc$etime, cc$event, cc$w)
fgwt_wc <- fg_weights_from(fg_cc, cc, Gw)
fit2_wc <- fg_fit(fg_cc, fgwt_wc * wi)
fit2_wc_b <- fg_fit(fg_cc, fgwt_wc * wi, ties = "breslow")
res$case_weighted <- list(
  unweighted_censoring_km = fit_summary(fit2, fg_cc),
  unweighted_censoring_km_breslow = list(terms = coef_table(fit2b), loglik = fit2b$loglik),
  finegray_weights_argument = list(
    same_rows_as_unweighted = identical(nrow(fg_cc_w), nrow(fg_cc)) &&
      isTRUE(all.equal(fg_cc_w[, c("id", "fgstart", "fgstop", "fgstatus")],
                       fg_cc[, c("id", "fgstart", "fgstop", "fgstatus")])),
    fgwt_equals_unweighted_fgwt_times_w_max_abs_diff = max(abs(fg_cc_w$fgwt - fg_cc$fgwt * wi))
  ),
  weighted_censoring_km = fit_summary(fit2_wc, fg_cc),
  weighted_censoring_km_breslow = list(terms = coef_table(fit2_wc_b), loglik = fit2_wc_b$loglik),
  sum_weights = sum(cc$w)
)

# ---------------------------------------------------------------- 3. crr
sexM <- as.numeric(cc$sex == "M")
crr_fit <- crr(cc$etime, cc$event, cov1 = cbind(sexM = sexM, age = cc$age, mspike = cc$mspike),
               failcode = 1, cencode = 0)
crr_se <- sqrt(diag(crr_fit$var))
crr_terms <- list()
for (j in seq_along(crr_fit$coef)) {
  crr_terms[[names(crr_fit$coef)[j]]] <- list(coef = unname(crr_fit$coef[j]), se = unname(crr_se[j]))
}
res$crr <- list(terms = crr_terms, converged = crr_fit$converged, n = crr_fit$n,
                n_missing = crr_fit$n.missing, loglik = crr_fit$loglik,
                loglik_null = crr_fit$loglik.null)

# ---------------------------------------------------------------- 4. integer weights vs replicated
cc$w2 <- 1 + (cc$age > 70)
w2i <- cc$w2[match(fg_cc$id, cc$id)]
rep_rows <- cc[rep(seq_len(nrow(cc)), times = cc$w2), ]
rep_rows$orig_id <- rep_rows$id
rep_rows$id <- seq_len(nrow(rep_rows))
fg_rep <- finegray(Surv(etime, factor(event)) ~ ., data = rep_rows[, c("id", "orig_id", "etime",
                                                                        "event", "age", "sex",
                                                                        "mspike")], etype = "1")
rep_fit <- function(ties, cluster_orig) {
  d <- fg_rep
  if (cluster_orig) d$cl <- d$orig_id else d$cl <- d$id
  coxph(Surv(fgstart, fgstop, fgstatus) ~ sex + age + mspike, data = d, weights = fgwt,
        cluster = cl, ties = ties)
}
G2 <- cens_km(cc$etime, cc$event, cc$w2)
fgwt_w2c <- fg_weights_from(fg_cc, cc, G2)
iw <- list(n_rows_replicated = nrow(rep_rows), finegray_rows_replicated = nrow(fg_rep))
for (ties in c("efron", "breslow")) {
  a <- fg_fit(fg_cc, fg_cc$fgwt * w2i, ties = ties)
  b <- fg_fit(fg_cc, fgwt_w2c * w2i, ties = ties)
  r_orig <- rep_fit(ties, TRUE)
  r_new <- rep_fit(ties, FALSE)
  iw[[ties]] <- list(
    weighted_unweighted_censoring_km = list(terms = coef_table(a), loglik = a$loglik),
    weighted_weighted_censoring_km = list(terms = coef_table(b), loglik = b$loglik),
    replicated_rows_cluster_original_id = list(terms = coef_table(r_orig), loglik = r_orig$loglik),
    replicated_rows_cluster_row = list(terms = coef_table(r_new), loglik = r_new$loglik),
    max_abs_coef_diff_weighted_censoring_km_vs_replicated = max(abs(coef(b) - coef(r_orig))),
    max_abs_coef_diff_unweighted_censoring_km_vs_replicated = max(abs(coef(a) - coef(r_orig))),
    max_rel_se_robust_diff_weighted_censoring_km_vs_replicated_cluster_original =
      max(abs(sqrt(diag(b$var)) / sqrt(diag(r_orig$var)) - 1))
  )
}
res$integer_weights_vs_replicated <- iw

# ---------------------------------------------------------------- JSON
spec <- list(
  data = c(
    "mg <- read.csv('data/mgus2.csv'); etime <- ifelse(pstat == 1, ptime, futime); event <- ifelse(pstat == 1, 1, 2 * death)  # 1 = PCM, 2 = death, 0 = censored",
    "cc <- mg[complete.cases(mg[, c('id','etime','event','age','sex','mspike')]), c('id','etime','event','age','sex','mspike')]  # 1373 rows; the censoring KM is computed on these rows (as crr does after na.omit)"
  ),
  unweighted = c(
    "fg <- finegray(Surv(etime, factor(event)) ~ ., data = cc, etype = '1')  # censoring distribution = unweighted KM, not stratified",
    "coxph(Surv(fgstart, fgstop, fgstatus) ~ sex + age + mspike, data = fg, weights = fgwt, cluster = id)  # ties = 'efron'; se_model = sqrt(diag(naive.var)); se_robust = sqrt(diag(var)), grouped dfbeta sandwich by subject (the usual Fine-Gray robust SE of the survival vignette; it ignores the estimation of G)",
    "complete_cases_breslow: same with ties = 'breslow'",
    "sex_only_all_1384_rows: fg_full <- finegray(Surv(etime, factor(event)) ~ ., data = mg[, c('id','etime','event','age','sex','mspike')], etype = '1'); coxph(Surv(fgstart, fgstop, fgstatus) ~ sex, data = fg_full, weights = fgwt) (vignette call; se_robust_no_cluster_row_level) and the same with cluster = id (se_robust_cluster_id)",
    "no_cluster_row_level_robust_se: coxph(Surv(fgstart, fgstop, fgstatus) ~ sex + age + mspike, data = fg, weights = fgwt) WITHOUT cluster: survival >= 3 then computes a robust variance anyway (non-integer weights) with one cluster per finegray ROW, not per subject",
    "all_1384_rows_censoring_km: finegray on all 1384 rows (na.action = na.pass, censoring KM on 1384 subjects), coxph then drops the 11 rows with missing mspike (as in the survival 'compete' vignette)",
    "check_fgwt_rebuilt_from_censoring_km_max_abs_diff: fgwt rebuilt as G(fgstart) / G(T-) for rows of death subjects starting at or after their death time T (else 1), where G = KM of censoring with censorings after events at tied times; shows the construction used for the weighted-censoring variants below"
  ),
  case_weighted = c(
    "cc$w <- 0.5 + (cc$age > 70) + 0.3 * (cc$sex == 'M')",
    "unweighted_censoring_km: coxph(Surv(fgstart, fgstop, fgstatus) ~ sex + age + mspike, data = fg, weights = fgwt * w[id], cluster = id)",
    "finegray_weights_argument: finegray(..., weights = w) keeps the censoring KM UNWEIGHTED and returns fgwt = unweighted fgwt * w (checked: same rows, max abs diff below), i.e. identical to unweighted_censoring_km",
    "weighted_censoring_km: fgwt rebuilt with G = case-weighted censoring KM (sum of w censored / sum of w at risk), then weights = fgwt_w * w, cluster = id; same rows as fg (all w > 0). Not produced by any survival function: built in this script",
    "*_breslow: same with ties = 'breslow'"
  ),
  crr = "cmprsk::crr(cc$etime, cc$event, cov1 = cbind(sexM, age, mspike), failcode = 1, cencode = 0)  # no weights argument; se = sqrt(diag(var)) (crr's sandwich, which includes the G-estimation term); censoring KM on the 1373 rows",
  integer_weights_vs_replicated = c(
    "cc$w2 <- 1 + (cc$age > 70); rep_rows <- cc[rep(1:1373, times = w2), ]; orig_id <- id; id <- 1:nrow(rep_rows)",
    "replicated: fg_rep <- finegray(Surv(etime, factor(event)) ~ ., rep_rows, etype = '1'); coxph(Surv(fgstart, fgstop, fgstatus) ~ sex + age + mspike, data = fg_rep, weights = fgwt, cluster = orig_id (or the row id), ties = t)",
    "weighted_unweighted_censoring_km: weights = fgwt * w2 on the 1373-row finegray data (what finegray(weights = w2) gives)",
    "weighted_weighted_censoring_km: weights = fgwt_w2 * w2 with G the w2-weighted censoring KM",
    "t in 'efron', 'breslow'"
  )
)

out <- list(
  id = "finegray_weighted",
  dataset = "survival::mgus2",
  data = list(
    package = paste0("R survival ", packageVersion("survival"), ", cmprsk ", packageVersion("cmprsk")),
    loader = "data/mgus2.csv; etime/event as in mgus2_aalen_johansen",
    counts_all_rows = counts(full),
    counts_complete_cases = counts(cc)
  ),
  specification = spec,
  estimates = res,
  notes = c(
    "finegray() accepts weights= but only multiplies them into fgwt: its censoring KM (survfit on the censoring indicator) is always unweighted. A weighted censoring KM needs the fgwt rebuild shown here.",
    "With integer weights and ties = 'breslow', the weighted-censoring-KM fit equals the replicated-rows fit (coef, loglik; robust SE equals replicated with cluster = original id). With ties = 'efron' they differ slightly because replicated rows create tied events.",
    "mgus2_fine_gray.json's se_robust values (0.1813478657 for sex, 0.005615864 / 0.180180172 / 0.148638402 multivariable) are the row-level sandwich of the vignette call without cluster = id; the subject-level (cluster = id) robust SE is larger (0.18577 for sex, close to crr's 0.18578).",
    "crr and finegray + coxph (complete cases) differ by up to 2.5e-4 in coef (tie and weight handling); crr's SE includes the variability of G, the coxph robust SE does not."
  ),
  source = paste0(R.version.string, "; survival ", packageVersion("survival"),
                  ", cmprsk ", packageVersion("cmprsk"), ", jsonlite ", packageVersion("jsonlite"),
                  "; platform ", R.version$platform,
                  "; script tests/reference/r/finegray_weighted.R"),
  tolerance = list(
    coef = "abs 1e-6 for the same R call (same censoring KM, same ties); abs 5e-4 against crr",
    se_model = "rel 1e-4",
    se_robust = "rel 1e-3; rel 2e-2 when comparing the coxph robust SE with crr's SE",
    loglik = "abs 1e-6"
  )
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(ref_dir, "finegray_weighted.json"))
cat("wrote", file.path(ref_dir, "finegray_weighted.json"), "\n")
