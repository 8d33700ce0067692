# Reference values for cohortlab's tv_weights() and msm(): time-varying stabilised IPT/IPC
# weights from pooled logistic glm fits, a weighted pooled logistic MSM (glm quasibinomial)
# with cluster-robust SEs (sandwich::vcovCL, HC0, with and without the G/(G-1) adjustment;
# geepack::geeglm independence), and a weighted Cox MSM on (period, period + 1] intervals.
# Run from the repository root:  Rscript tests/reference/msm/msm_reference.R
# Data: tests/reference/msm/data.csv (written by make_data.py). Output: weights.csv
# (row-level weights) and expected.json (everything else).
suppressPackageStartupMessages({
  library(sandwich); library(geepack); library(survival); library(jsonlite)
})
dir <- "tests/reference/msm"
# glm's default epsilon (1e-8 on the deviance) leaves the working weights that vcovCL's bread
# uses ~1e-6 from the converged fit; iterate to convergence so both sides use the same fit
ctl <- glm.control(epsilon = 1e-14, maxit = 100)
d <- read.csv(file.path(dir, "data.csv"))
d <- d[order(d$id, d$period), ]
d$prev_A <- ave(d$A, d$id, FUN = function(a) c(0, head(a, -1)))

p_obs <- function(fit, y, newdata) {
  p <- predict(fit, newdata = newdata, type = "response")
  ifelse(y == 1, p, 1 - p)
}
# --- treatment weights, all person-periods
den <- glm(A ~ prev_A + period + I(period^2) + L + V, family = binomial, control = ctl, data = d)
num <- glm(A ~ prev_A + period + I(period^2) + V, family = binomial, control = ctl, data = d)
d$swa <- ave(p_obs(num, d$A, d) / p_obs(den, d$A, d), d$id, FUN = cumprod)
# --- censoring weights (a censored row's outcome is unobserved: weight 0)
cden <- glm(C ~ A + prev_A + period + I(period^2) + L + V, family = binomial, control = ctl, data = d)
cnum <- glm(C ~ A + prev_A + period + I(period^2) + V, family = binomial, control = ctl, data = d)
d$swc <- ave(p_obs(cnum, d$C * 0, d) / p_obs(cden, d$C * 0, d), d$id, FUN = cumprod)
d$swc[d$C == 1] <- 0
d$sw <- d$swa * d$swc
# --- truncation at the 1st and 99th percentiles (type 7) of the weights of uncensored rows
q <- quantile(d$sw[d$C == 0], c(0.01, 0.99), type = 7)
d$sw_trunc <- ifelse(d$C == 0, pmin(pmax(d$sw, q[1]), q[2]), 0)
# --- initiation convention: treatment models among person-periods not treated before
di <- d[d$prev_A == 0, ]
den_i <- glm(A ~ period + I(period^2) + L + V, family = binomial, control = ctl, data = di)
num_i <- glm(A ~ period + I(period^2) + V, family = binomial, control = ctl, data = di)
f_i <- ifelse(d$prev_A == 0, p_obs(num_i, d$A, d) / p_obs(den_i, d$A, d), 1)
d$swa_init <- ave(f_i, d$id, FUN = cumprod)

# --- MSM: weighted pooled logistic on the uncensored person-periods
u <- d[d$C == 0, ]
msm <- glm(Y ~ A + cum_A + period + I(period^2) + V, family = quasibinomial, control = ctl, weights = sw,
           data = u)
v_cl <- vcovCL(msm, cluster = ~id, type = "HC0")                  # cadjust = TRUE: G/(G-1)
v_cl0 <- vcovCL(msm, cluster = ~id, type = "HC0", cadjust = FALSE)
gee <- geeglm(Y ~ A + cum_A + period + I(period^2) + V, family = binomial, weights = sw,
              id = id, corstr = "independence", data = u)
# truncated weights, current treatment only (a second specification)
msm_t <- glm(Y ~ A + period + V, family = quasibinomial, control = ctl, weights = sw_trunc, data = u)
v_t <- vcovCL(msm_t, cluster = ~id, type = "HC0")
# --- weighted Cox MSM on (period, period + 1], robust SE clustered by id (efron ties)
cox <- coxph(Surv(period, period + 1, Y) ~ A + cum_A + V, weights = sw, cluster = id,
             ties = "efron", data = u)

# --- standardised risks under always / never from the MSM (baseline V of each person)
K <- max(d$period) + 1
base <- d[d$period == 0, c("id", "V")]
risk <- function(a) {
  g <- base[rep(seq_len(nrow(base)), each = K), ]
  g$period <- rep(0:(K - 1), nrow(base)); g$A <- a; g$cum_A <- a * (g$period + 1)
  h <- matrix(predict(msm, newdata = g, type = "response"), ncol = K, byrow = TRUE)
  colMeans(1 - t(apply(1 - h, 1, cumprod)))
}
by_period <- function(w, keep) {
  s <- split(w[keep], d$period[keep])
  data.frame(period = as.integer(names(s)), mean = sapply(s, mean), min = sapply(s, min),
             max = sapply(s, max), p50 = sapply(s, median),
             p99 = sapply(s, quantile, 0.99, type = 7),
             ess = sapply(s, function(x) sum(x)^2 / sum(x^2)))
}
coefs <- function(fit) as.list(coef(fit))
out <- list(
  r_version = R.version.string,
  packages = list(sandwich = as.character(packageVersion("sandwich")),
                  geepack = as.character(packageVersion("geepack")),
                  survival = as.character(packageVersion("survival"))),
  n_rows = nrow(d), n_persons = length(unique(d$id)),
  models = list(treatment_denominator = coefs(den), treatment_numerator = coefs(num),
                censoring_denominator = coefs(cden), censoring_numerator = coefs(cnum),
                treatment_denominator_init = coefs(den_i),
                treatment_numerator_init = coefs(num_i)),
  model_se = list(treatment_denominator = as.list(sqrt(diag(vcov(den))))),
  truncation = list(lo = unname(q[1]), hi = unname(q[2]),
                    n_changed = sum((d$sw[d$C == 0] < q[1]) | (d$sw[d$C == 0] > q[2]))),
  weights_summary = list(mean = mean(d$sw[d$C == 0]), min = min(d$sw[d$C == 0]),
                         max = max(d$sw[d$C == 0]), sd = sd(d$sw[d$C == 0]),
                         ess = sum(d$sw[d$C == 0])^2 / sum(d$sw[d$C == 0]^2)),
  by_period = by_period(d$sw, d$C == 0),
  msm = list(terms = names(coef(msm)), coef = unname(coef(msm)),
             se_vcovCL_HC0 = unname(sqrt(diag(v_cl))),
             se_vcovCL_HC0_noadj = unname(sqrt(diag(v_cl0))),
             se_geeglm = unname(summary(gee)$coefficients[, "Std.err"]),
             vcov_vcovCL_HC0 = unname(v_cl)),
  msm_truncated = list(terms = names(coef(msm_t)), coef = unname(coef(msm_t)),
                       se_vcovCL_HC0 = unname(sqrt(diag(v_t)))),
  cox = list(terms = names(coef(cox)), coef = unname(coef(cox)),
             se_robust = unname(sqrt(diag(cox$var)))),
  risks = list(always = risk(1), never = risk(0))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(dir, "expected.json"))
write.csv(d[, c("id", "period", "swa", "swc", "sw", "sw_trunc", "swa_init")],
          file.path(dir, "weights.csv"), row.names = FALSE)
cat("wrote", file.path(dir, "expected.json"), "\n")

# ------------------------------------------------------------------ competing event
# data_competing.csv (cohortlab's simulate_longitudinal): within a period censoring, then the
# competing event D, then Y. Outcome MSM on rows with C == 0 and D == 0, competing-event MSM
# on rows with C == 0, both weighted with the same stabilised weights; cumulative incidence
# of Y under always / never, standardised over baseline V.
d <- read.csv(file.path(dir, "data_competing.csv"))
d <- d[order(d$id, d$period), ]
d$prev_A <- ave(d$A, d$id, FUN = function(a) c(0, head(a, -1)))
den <- glm(A ~ prev_A + period + I(period^2) + L + V, family = binomial, control = ctl, data = d)
num <- glm(A ~ prev_A + period + I(period^2) + V, family = binomial, control = ctl, data = d)
cden <- glm(C ~ A + prev_A + period + I(period^2) + L + V, family = binomial, control = ctl, data = d)
cnum <- glm(C ~ A + prev_A + period + I(period^2) + V, family = binomial, control = ctl, data = d)
d$sw <- ave(p_obs(num, d$A, d) / p_obs(den, d$A, d) *
            p_obs(cnum, d$C * 0, d) / p_obs(cden, d$C * 0, d), d$id, FUN = cumprod)
f <- ~ A + cum_A + period + I(period^2) + V
uy <- d[d$C == 0 & d$D == 0, ]
ud <- d[d$C == 0, ]
my <- glm(update(f, Y ~ .), family = quasibinomial, control = ctl, weights = sw, data = uy)
md <- glm(update(f, D ~ .), family = quasibinomial, control = ctl, weights = sw, data = ud)
K <- max(d$period) + 1
base <- d[d$period == 0, c("id", "V")]
cif <- function(a) {
  g <- base[rep(seq_len(nrow(base)), each = K), ]
  g$period <- rep(0:(K - 1), nrow(base)); g$A <- a; g$cum_A <- a * (g$period + 1)
  hy <- matrix(predict(my, newdata = g, type = "response"), ncol = K, byrow = TRUE)
  hd <- matrix(predict(md, newdata = g, type = "response"), ncol = K, byrow = TRUE)
  q <- (1 - hy) * (1 - hd)
  s_prev <- cbind(1, t(apply(q, 1, cumprod))[, -K, drop = FALSE])
  colMeans(t(apply(s_prev * (1 - hd) * hy, 1, cumsum)))
}
cox_cs <- coxph(Surv(period, period + 1, Y) ~ A + cum_A + V, weights = sw, cluster = id,
                ties = "efron", data = transform(ud, Y = ifelse(D == 1, 0, Y)))
out_c <- list(
  n_rows = nrow(d), n_persons = length(unique(d$id)),
  sw = d$sw,
  outcome = list(terms = names(coef(my)), coef = unname(coef(my)),
                 se_vcovCL_HC0 = unname(sqrt(diag(vcovCL(my, cluster = ~id, type = "HC0"))))),
  competing = list(coef = unname(coef(md)),
                   se_vcovCL_HC0 = unname(sqrt(diag(vcovCL(md, cluster = ~id, type = "HC0"))))),
  cox = list(coef = unname(coef(cox_cs)), se_robust = unname(sqrt(diag(cox_cs$var)))),
  cif = list(always = cif(1), never = cif(0))
)
writeLines(toJSON(out_c, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(dir, "expected_competing.json"))
cat("wrote", file.path(dir, "expected_competing.json"), "\n")
