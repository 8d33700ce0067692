# External validation of a Cox prognostic model, rotterdam -> gbsg (Royston & Altman 2013, BMC
# Med Res Methodol 13:33; survival's "Recreating a Royston and Altman paper" vignette, package
# survivalVignettes, royston.Rmd).
#
# Development (rotterdam, nodes > 0, n = 1546): recurrence-free survival as in the vignette:
# recurrence and death each administratively censored at y7 = round(7 * 365.25) = 2557 days,
# then rfstime = ifelse(recur == 1, rtime, dtime), rfs = pmax(recur, death) (the 43 women who
# died without recurrence after their recurrence follow-up ended count as events at death; the
# vignette's 965 events). Model: the vignette's coxph(Surv(rfstime, rfs) ~ agefun(age) + meno +
# size + I(1/sqrt(nodes)) + I(er/1000) + hormon, ties = "breslow"), agefun(x) =
# ((x/100)^3, (x/100)^3 log(x/100)).
# Validation (gbsg, n = 686, not truncated, as in the vignette) at t5 = 5 * 365.25 days:
# linear predictor and 5-year risk, Harrell's and Uno's C (concordance()), AUC(t5), Brier(t5),
# IPA (riskRegression::Score), O/E (Kaplan-Meier), calibration slope (coxph on the linear
# predictor), calibration by decile of predicted risk (KM), and the Kaplan-Meier (Vickers 2008)
# net benefit of treating when predicted risk >= threshold.
#
# Writes tests/reference/rotterdam_gbsg.json and analyses/rotterdam_gbsg/expected.json.
# Run from the repository root:  Rscript tests/reference/r/rotterdam_gbsg.R
suppressPackageStartupMessages({
  library(survival)
  library(riskRegression)
  library(jsonlite)
})

# ---- the bundled CSVs are R's data, row for row
rott_csv <- read.csv("src/cohortlab/datasets/data/rotterdam.csv")
gbsg_csv <- read.csv("src/cohortlab/datasets/data/gbsg.csv")
stopifnot(isTRUE(all.equal(rott_csv, transform(rotterdam, size = as.character(size)),
                           check.attributes = FALSE)),
          isTRUE(all.equal(gbsg_csv, gbsg, check.attributes = FALSE)))

# ---- development data: the vignette's r7
y7 <- round(7 * 365.25)
r7 <- subset(rotterdam, nodes > 0)
r7$recur <- ifelse(r7$rtime > y7, 0, r7$recur)
r7$rtime <- pmin(r7$rtime, y7)
r7$death <- ifelse(r7$dtime > y7, 0, r7$death)
r7$dtime <- pmin(r7$dtime, y7)
r7$rfstime <- with(r7, ifelse(recur == 1, rtime, dtime))
r7$rfs <- with(r7, pmax(death, recur))
# the same covariates as plain columns (the Python side builds the same columns)
addcov <- function(d) {
  d$age3 <- (d$age / 100)^3
  d$age3_log <- (d$age / 100)^3 * log(d$age / 100)
  d$nodes_isqrt <- 1 / sqrt(d$nodes)
  d$er1000 <- d$er / 1000
  d
}
r7 <- addcov(r7)
agefun <- function(x) cbind((x / 100)^3, (x / 100)^3 * log(x / 100))
cfit_vignette <- coxph(Surv(rfstime, rfs) ~ agefun(age) + meno + size + I(1 / sqrt(nodes)) +
                         I(er / 1000) + hormon, data = r7, ties = "breslow")
cfit <- coxph(Surv(rfstime, rfs) ~ age3 + age3_log + meno + size + nodes_isqrt + er1000 +
                hormon, data = r7, ties = "breslow", x = TRUE)
stopifnot(max(abs(coef(cfit) - unname(coef(cfit_vignette)))) < 1e-10)
terms <- c("age3", "age3_log", "meno", "size[T.20-50]", "size[T.>50]", "nodes_isqrt",
           "er1000", "hormon")
paper <- c(1.07, 9.13, 0.46, 0.23, 0.31, -1.74, -0.34, -0.35)  # Royston & Altman, Table 2
beta <- unname(coef(cfit))
se <- unname(sqrt(diag(vcov(cfit))))

# ---- validation data: the vignette's gbsg2
g2 <- gbsg
g2$size <- cut(gbsg$size, c(0, 20, 50, 150), c("<=20", "20-50", ">50"))
g2$rfs <- g2$status
g2 <- addcov(g2)
g2$PI <- unname(predict(cfit, newdata = g2))             # centred at rotterdam's means
t5 <- 5 * 365.25
risk5 <- unname(predictRisk(cfit, newdata = g2, times = t5)[, 1])
sf <- summary(survfit(cfit, newdata = g2), times = t5)
stopifnot(max(abs(risk5 - (1 - sf$surv[1, ]))) < 1e-12)
g2$risk5 <- risk5
z <- qnorm(0.975)

conc <- function(timewt = "n", ymax = NULL) {
  args <- list(Surv(rfstime, rfs) ~ PI, data = g2, reverse = TRUE, timewt = timewt)
  if (!is.null(ymax)) args$ymax <- ymax
  cc <- do.call(concordance, args)
  est <- unname(cc$concordance); s <- sqrt(unname(cc$var))
  list(estimate = est, std_error = s, conf_low = est - z * s, conf_high = est + z * s)
}
harrell <- conc()
uno <- conc("n/G2", t5)

sc <- Score(list(cox = as.matrix(g2$risk5)), formula = Surv(rfstime, rfs) ~ 1, data = g2,
            times = t5, metrics = c("auc", "brier"), summary = "ipa", null.model = TRUE,
            conf.int = 0.95, cens.model = "km", conservative = FALSE)
a <- as.data.frame(sc$AUC$score)
b <- as.data.frame(sc$Brier$score)
bcox <- b[b$model == "cox", ]
bnull <- b[b$model == "Null model", ]
wald <- function(est, s) list(estimate = est, std_error = s, conf_low = est - z * s,
                              conf_high = est + z * s)
auc <- list(estimate = a$AUC, std_error = a$se, conf_low = a$lower, conf_high = a$upper)
brier <- list(estimate = bcox$Brier, std_error = bcox$se, conf_low = bcox$lower,
              conf_high = bcox$upper)
brier_null <- list(estimate = bnull$Brier, std_error = bnull$se, conf_low = bnull$lower,
                   conf_high = bnull$upper)
ipa <- list(estimate = bcox$IPA)

km <- survfit(Surv(rfstime, rfs) ~ 1, data = g2)
ks <- summary(km, times = t5)
obs <- 1 - ks$surv
exp_risk <- mean(g2$risk5)
oe <- obs / exp_risk
oe_se_log <- ks$std.err / obs
oe_ratio <- list(estimate = oe, std_error = oe_se_log, conf_low = oe * exp(-z * oe_se_log),
                 conf_high = oe * exp(z * oe_se_log), observed = obs,
                 observed_std_error = ks$std.err, expected = exp_risk)

slope_fit <- coxph(Surv(rfstime, rfs) ~ PI, data = g2)
sl <- unname(coef(slope_fit)); sl_se <- unname(sqrt(vcov(slope_fit)[1, 1]))
slope <- list(estimate = sl, std_error = sl_se, conf_low = sl - z * sl_se,
              conf_high = sl + z * sl_se)

# calibration by decile of predicted risk: bins [q_{k-1}, q_k) of quantile(type = 7)
edges <- unname(quantile(g2$risk5, seq(0.1, 0.9, by = 0.1)))
bin <- findInterval(g2$risk5, edges) + 1
cal <- lapply(1:10, function(k) {
  d <- g2[bin == k, ]
  s <- summary(survfit(Surv(rfstime, rfs) ~ 1, data = d), times = t5, extend = TRUE)
  list(bin = k, n = nrow(d), mean_risk = mean(d$risk5), observed = 1 - s$surv,
       observed_std_error = s$std.err)
})

# Kaplan-Meier net benefit (Vickers et al. 2008): treat when risk5 >= threshold
km_risk <- function(d) 1 - summary(survfit(Surv(rfstime, rfs) ~ 1, data = d), times = t5,
                                   extend = TRUE)$surv
thresholds <- seq(0.05, 0.80, by = 0.05)
nb <- lapply(thresholds, function(pt) {
  pos <- g2$risk5 >= pt
  w <- pt / (1 - pt)
  model <- if (any(pos)) {
    r <- km_risk(g2[pos, ]); mean(pos) * (r - (1 - r) * w)
  } else 0
  list(threshold = pt, net_benefit = model, treat_all = obs - (1 - obs) * w,
       n_positive = sum(pos))
})

ref <- list(
  id = "rotterdam_gbsg",
  dataset = paste("survival::rotterdam (development, nodes > 0) and survival::gbsg",
                  "(validation); bundled as cohortlab.datasets.load_rotterdam()/load_gbsg()"),
  specification = list(
    development = paste("rotterdam nodes > 0 (1546 rows); recur/rtime and death/dtime each",
                        "censored at y7 = round(7*365.25) = 2557 days; rfstime = ifelse(recur",
                        "== 1, rtime, dtime); rfs = pmax(death, recur)"),
    model = paste("coxph(Surv(rfstime, rfs) ~ age3 + age3_log + meno + size + nodes_isqrt +",
                  "er1000 + hormon, ties = 'breslow'); age3 = (age/100)^3, age3_log =",
                  "age3*log(age/100), nodes_isqrt = 1/sqrt(nodes), er1000 = er/1000; identical",
                  "to the vignette's agefun(age) + ... + I(1/sqrt(nodes)) + I(er/1000) fit"),
    validation = paste("gbsg (686 rows, not truncated); size grouped by cut(size, c(0, 20,",
                       "50, 150)); rfs = status; t5 = 5*365.25 = 1826.25 days"),
    predictions = paste("PI = predict(cfit, newdata = gbsg2) (centred at rotterdam's",
                        "means); risk5 = predictRisk(cfit, newdata, times = t5) = 1 -",
                        "survfit(cfit, newdata) at t5 (Breslow baseline hazard)"),
    harrell = "concordance(Surv(rfstime, rfs) ~ PI, reverse = TRUE); SE = sqrt(var) (IJ); Wald CI",
    uno = "concordance(..., timewt = 'n/G2', ymax = t5); SE = sqrt(var); Wald CI",
    score = paste("Score(list(cox = risk5), Surv(rfstime, rfs) ~ 1, times = t5, metrics =",
                  "c('auc', 'brier'), summary = 'ipa', null.model = TRUE, cens.model = 'km',",
                  "conservative = FALSE)"),
    oe_ratio = paste("O = 1 - KM(t5) of gbsg, E = mean(risk5); O/E with CI exp(log(O/E) +-",
                     "z * se), se = Greenwood std.err / O (E treated as fixed)"),
    calibration_slope = "coxph(Surv(rfstime, rfs) ~ PI, data = gbsg2) (Efron); Wald CI",
    calibration = paste("deciles of risk5: edges quantile(risk5, 1:9/10) (type 7), bin =",
                        "findInterval(risk5, edges) + 1; observed = 1 - KM(t5) in the bin",
                        "(extend = TRUE), Greenwood std.err"),
    net_benefit = paste("Vickers et al. (2008) Kaplan-Meier net benefit at t5: positive =",
                        "risk5 >= pt; NB = P(pos) * [(1 - S_pos) - S_pos * pt / (1 - pt)] (0",
                        "with no positives); treat all = (1 - S) - S * pt / (1 - pt)")
  ),
  estimates = list(
    development = list(n = nrow(r7), n_events = sum(r7$rfs), terms = terms, coef = beta,
                       std_error = se, paper_table2 = paper,
                       loglik = unname(cfit$loglik), concordance = unname(cfit$concordance[6])),
    validation = list(n = nrow(g2), n_events = sum(g2$rfs), t5 = t5, PI = g2$PI,
                      risk5 = g2$risk5),
    harrell_c = harrell, uno_c = uno, auc = auc, brier = brier, brier_null = brier_null,
    ipa = ipa, oe_ratio = oe_ratio, calibration_slope = slope, calibration = cal,
    net_benefit = nb
  ),
  source = paste0(R.version.string, "; survival ", packageVersion("survival"),
                  "; riskRegression ", packageVersion("riskRegression"), "; jsonlite ",
                  packageVersion("jsonlite"), "; script tests/reference/r/rotterdam_gbsg.R"),
  tolerance = list(coef = "abs 1e-6", std_error = "abs 1e-6", predictions = "abs 1e-8",
                   concordance = "abs 1e-6", auc = "abs 1e-6", brier = "abs 1e-6",
                   se = "abs 1e-6", calibration = "abs 1e-8", net_benefit = "abs 1e-8",
                   paper_table2 = "abs 0.01 (printed to 2 decimals); size>50 differs (see README)")
)
writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           "tests/reference/rotterdam_gbsg.json")

# ---- analyses/rotterdam_gbsg/expected.json: one flat entry per number run.py prints
entry <- function(value, tol, source, kind = "abs", paper = NULL) {
  e <- list(value = value)
  e[[kind]] <- tol
  e$source <- source
  if (!is.null(paper)) e$paper <- paper
  e
}
src <- "R (tests/reference/rotterdam_gbsg.json)"
ex <- list(`_about` = paste0(
  "Reference values for run.py, written by tests/reference/r/rotterdam_gbsg.R (", ref$source,
  "). Each entry: value, tolerance ('abs'), source, and 'paper' where Royston & Altman (2013)",
  " print the number (Table 2, as quoted in the survival vignette). '<quantity> vs paper'",
  " entries compare our coefficient with the paper's printed value."))
ex[["development n"]] <- entry(nrow(r7), 0, src)
ex[["development events (vignette: 965)"]] <- entry(sum(r7$rfs), 0, src)
for (i in seq_along(terms)) {
  ex[[paste("coef", terms[i])]] <- entry(beta[i], 1e-6, src)
  ex[[paste("SE", terms[i])]] <- entry(se[i], 1e-6, src)
  # the paper's size contrasts are >20 vs <=20 (sized1) and >50 vs 20-50 (sized2): our
  # >50 vs <=20 coefficient is their sum (the vignette's remark)
  pv <- if (terms[i] == "size[T.>50]") paper[4] + paper[5] else paper[i]
  what <- if (terms[i] == "size[T.>50]") "Table 2, sized1 + sized2" else "Table 2"
  ex[[paste("coef", terms[i], "vs paper")]] <- entry(pv, 0.006,
                                                   paste("Royston & Altman (2013)", what),
                                                   "abs", pv)
}
ex[["development Harrell C (apparent)"]] <- entry(unname(cfit$concordance[6]), 1e-6, src)
ex[["validation n"]] <- entry(nrow(g2), 0, src)
ex[["validation events"]] <- entry(sum(g2$rfs), 0, src)
ex[["mean 5-year risk (E)"]] <- entry(exp_risk, 1e-8, src)
for (nm in c("harrell_c", "uno_c", "auc", "brier", "brier_null", "oe_ratio",
             "calibration_slope")) {
  r <- ref$estimates[[nm]]
  for (f in c("estimate", "std_error", "conf_low", "conf_high"))
    ex[[paste(nm, f)]] <- entry(r[[f]], 1e-6, src)
}
ex[["ipa estimate"]] <- entry(ipa$estimate, 1e-6, src)
ex[["observed 5-year risk (KM)"]] <- entry(obs, 1e-8, src)
for (k in 1:10) {
  ex[[paste("calibration decile", k, "mean risk")]] <- entry(cal[[k]]$mean_risk, 1e-8, src)
  ex[[paste("calibration decile", k, "observed")]] <- entry(cal[[k]]$observed, 1e-8, src)
}
for (r in nb) {
  ex[[sprintf("net benefit %.2f", r$threshold)]] <- entry(r$net_benefit, 1e-8, src)
  ex[[sprintf("net benefit treat all %.2f", r$threshold)]] <- entry(r$treat_all, 1e-8, src)
}
dir.create("analyses/rotterdam_gbsg", showWarnings = FALSE)
writeLines(toJSON(ex, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           "analyses/rotterdam_gbsg/expected.json")
