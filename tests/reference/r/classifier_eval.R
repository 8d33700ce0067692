# Classifier evaluation references: AUROC with DeLong variance (pROC), calibration intercept and
# slope (rms val.prob / lrm, calibration-in-the-large by an offset glm), Brier score, Wilson
# intervals at a threshold (prop.test(correct = FALSE)), net benefit and the DeLong
# inverse-variance heterogeneity chi-square across subgroups.
# Writes tests/reference/classifier_eval.json and tests/reference/data/asah.csv.
# Run from the repository root:
#   Rscript tests/reference/r/classifier_eval.R
suppressPackageStartupMessages({
  library(pROC)
  library(rms)
  library(jsonlite)
})

# ---------------------------------------------------------------- data
nhefs <- read.csv("src/cohortlab/datasets/data/nhefs.csv")
cc <- complete.cases(nhefs[, c("death", "age", "sex", "race", "smokeintensity", "sbp")])
nh <- nhefs[cc, ]
fit <- glm(death ~ age + sex + race + smokeintensity + sbp, family = binomial, data = nh,
           control = glm.control(epsilon = 1e-14, maxit = 100))
nh$score <- unname(fitted(fit))

data(aSAH, package = "pROC")
asah <- data.frame(gos6 = as.integer(as.character(aSAH$gos6)),
                   outcome = as.character(aSAH$outcome),
                   gender = as.character(aSAH$gender), age = aSAH$age,
                   wfns = as.integer(as.character(aSAH$wfns)),
                   s100b = aSAH$s100b, ndka = aSAH$ndka)
write.csv(asah, "tests/reference/data/asah.csv", row.names = FALSE)
asah$poor <- as.integer(asah$outcome == "Poor")
asah$score <- asah$s100b / (1 + asah$s100b)   # monotone map of s100b into (0, 1)

# ---------------------------------------------------------------- metrics of one (sub)sample
wilson <- function(x, n) {
  if (n == 0) return(list(x = x, n = n, estimate = NA, lower = NA, upper = NA))
  pt <- prop.test(x, n, correct = FALSE)
  list(x = x, n = n, estimate = x / n, lower = pt$conf.int[1], upper = pt$conf.int[2])
}

one <- function(p, y, threshold, nb_thresholds) {
  r <- roc(y, p, levels = c(0, 1), direction = "<", quiet = TRUE)
  ci <- ci.auc(r, method = "delong")
  v <- var(r, method = "delong")
  vp <- val.prob(p, y, pl = FALSE)
  lg <- qlogis(p)
  recal <- lrm(y ~ lg)                               # what val.prob fits (lrm.fit(logit, y))
  citl <- glm(y ~ 1, offset = lg, family = binomial,  # calibration-in-the-large
              control = glm.control(epsilon = 1e-14, maxit = 100))
  bs <- (p - y)^2
  pred <- p >= threshold
  tp <- sum(pred & y == 1); fp <- sum(pred & y == 0)
  fn <- sum(!pred & y == 1); tn <- sum(!pred & y == 0)
  n <- length(y)
  nb <- sapply(nb_thresholds, function(pt) {
    tpp <- sum(p >= pt & y == 1); fpp <- sum(p >= pt & y == 0)
    tpp / n - fpp / n * pt / (1 - pt)
  })
  prev <- mean(y)
  list(
    n = n, n_events = sum(y),
    auc = as.numeric(auc(r)), auc_var_delong = v, auc_se_delong = sqrt(v),
    auc_ci_delong = c(ci[1], ci[3]),
    valprob_intercept = unname(vp["Intercept"]), valprob_slope = unname(vp["Slope"]),
    valprob_brier = unname(vp["Brier"]), valprob_c = unname(vp["C (ROC)"]),
    recal_coef = unname(coef(recal)), recal_se = unname(sqrt(diag(vcov(recal)))),
    citl = unname(coef(citl)), citl_se = unname(sqrt(diag(vcov(citl)))),
    brier = mean(bs), brier_se = sd(bs) / sqrt(n),
    threshold = threshold,
    sensitivity = wilson(tp, tp + fn), specificity = wilson(tn, tn + fp),
    ppv = wilson(tp, tp + fp), npv = wilson(tn, tn + fn),
    net_benefit = list(thresholds = nb_thresholds, model = nb,
                       treat_all = prev - (1 - prev) * nb_thresholds / (1 - nb_thresholds))
  )
}

het <- function(parts) {
  a <- sapply(parts, `[[`, "auc"); v <- sapply(parts, `[[`, "auc_var_delong")
  w <- 1 / v; pooled <- sum(w * a) / sum(w); q <- sum(w * (a - pooled)^2)
  s <- sapply(parts, function(x) x$recal_coef[2]); vs <- sapply(parts, function(x) x$recal_se[2]^2)
  ws <- 1 / vs; pooled_s <- sum(ws * s) / sum(ws); qs <- sum(ws * (s - pooled_s)^2)
  list(auc_pooled = pooled, auc_q = q, auc_df = length(a) - 1,
       auc_p = pchisq(q, length(a) - 1, lower.tail = FALSE),
       slope_pooled = pooled_s, slope_q = qs,
       slope_p = pchisq(qs, length(s) - 1, lower.tail = FALSE))
}

nbt <- c(0.05, 0.1, 0.2, 0.3)
thr <- 0.2
nh_all <- one(nh$score, nh$death, thr, nbt)
nh_sex <- lapply(split(nh, nh$sex), function(d) one(d$score, d$death, thr, nbt))
as_all <- one(asah$score, asah$poor, thr, nbt)
as_gender <- lapply(split(asah, asah$gender), function(d) one(d$score, d$poor, thr, nbt))
r_s100b <- roc(asah$poor, asah$s100b, levels = c(0, 1), direction = "<", quiet = TRUE)

ref <- list(
  id = "classifier_eval",
  dataset = "NHEFS (cohortlab bundled nhefs.csv) and pROC::aSAH (113 patients)",
  data = list(
    nhefs = "src/cohortlab/datasets/data/nhefs.csv; complete cases of death, age, sex, race, smokeintensity, sbp",
    nhefs_model = list(formula = "death ~ age + sex + race + smokeintensity + sbp (binomial glm)",
                       coefficients = as.list(coef(fit)), n = nrow(nh)),
    asah = "tests/reference/data/asah.csv (data(aSAH, package = 'pROC') exported row for row; factors as labels/integers)",
    asah_score = "score = s100b / (1 + s100b); label poor = outcome == 'Poor'"
  ),
  specification = list(
    auc = "pROC::roc(y, p, levels = c(0, 1), direction = '<'); auc(); ci.auc(method = 'delong') (normal on the AUC scale, clipped to [0, 1]); var(method = 'delong')",
    calibration = "rms::val.prob(p, y, pl = FALSE) Intercept and Slope = lrm(y ~ qlogis(p)) coefficients; SEs from vcov(lrm); calibration-in-the-large: glm(y ~ 1, offset = qlogis(p), binomial, epsilon = 1e-14); NHEFS glm also epsilon = 1e-14",
    brier = "mean((p - y)^2); SE = sd((p - y)^2) / sqrt(n)",
    threshold = "predicted positive: p >= threshold; Wilson intervals = prop.test(x, n, correct = FALSE)$conf.int",
    net_benefit = "TP/n - FP/n * pt / (1 - pt) with positives p >= pt; treat all: prev - (1 - prev) pt / (1 - pt)",
    heterogeneity = "inverse-variance chi-square sum w_g (theta_g - pooled)^2, w_g = 1 / var_g, df = G - 1; AUROC with DeLong variances, slope with the lrm SEs"
  ),
  estimates = list(
    nhefs = list(overall = nh_all, by_sex = nh_sex, heterogeneity_sex = het(nh_sex)),
    asah = list(overall = as_all, by_gender = as_gender, heterogeneity_gender = het(as_gender),
                s100b_raw = list(auc = as.numeric(auc(r_s100b)),
                                 ci = as.numeric(ci.auc(r_s100b, method = "delong"))[c(1, 3)],
                                 var = var(r_s100b, method = "delong")))
  ),
  source = paste0(R.version.string, "; pROC ", packageVersion("pROC"), "; rms ",
                  packageVersion("rms"), "; jsonlite ", packageVersion("jsonlite"),
                  "; script tests/reference/r/classifier_eval.R"),
  tolerance = list(auc = "abs 1e-8", auc_se = "abs 1e-6 (DeLong SE and CI)",
                   calibration = "abs 1e-6 (coefficients and SEs; both sides converge to < 1e-9)",
                   brier = "abs 1e-10", wilson = "abs 1e-10", net_benefit = "abs 1e-12",
                   heterogeneity = "abs 1e-6")
)
writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           "tests/reference/classifier_eval.json")
