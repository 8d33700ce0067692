# Reference values for cohortlab's strategy_curves() (IP-weighted Kaplan-Meier / Aalen-Johansen
# under always / never treated, artificial censoring at the first deviation) and for the
# standardised risk curves of msm(model = "cox") (weighted coxph + survfit(newdata)).
# Run from the repository root:  Rscript tests/reference/msm/curves_reference.R
# Data: tests/reference/msm/data.csv and data_competing.csv (written by make_data.py).
# Output: tests/reference/msm/expected_curves.json.
suppressPackageStartupMessages({library(survival); library(jsonlite)})
dir <- "tests/reference/msm"
ctl <- glm.control(epsilon = 1e-14, maxit = 100)
p_obs <- function(fit, y, newdata) {
  p <- predict(fit, newdata = newdata, type = "response")
  ifelse(y == 1, p, 1 - p)
}
prep <- function(file) {
  d <- read.csv(file.path(dir, file))
  d <- d[order(d$id, d$period), ]
  d$prev_A <- ave(d$A, d$id, FUN = function(a) c(0, head(a, -1)))
  d
}
# stabilised weights; numerator covariates `num_rhs` (strategy_curves: none; msm: baseline V)
weights <- function(d, num_rhs) {
  den <- glm(A ~ prev_A + period + I(period^2) + L + V, family = binomial, control = ctl, data = d)
  num <- glm(as.formula(paste("A ~ prev_A + period + I(period^2)", num_rhs)), family = binomial,
             control = ctl, data = d)
  cden <- glm(C ~ A + prev_A + period + I(period^2) + L + V, family = binomial, control = ctl,
              data = d)
  cnum <- glm(as.formula(paste("C ~ A + prev_A + period + I(period^2)", num_rhs)),
              family = binomial, control = ctl, data = d)
  sw <- ave(p_obs(num, d$A, d) / p_obs(den, d$A, d) *
            p_obs(cnum, d$C * 0, d) / p_obs(cden, d$C * 0, d), d$id, FUN = cumprod)
  ifelse(d$C == 1, 0, sw)
}
adherent <- function(d, a) {
  if (a == 1) ave(d$A, d$id, FUN = cummin) == 1 else ave(d$A, d$id, FUN = cummax) == 0
}

# ------------------------------------------------------------------ weighted KM (data.csv)
d <- prep("data.csv")
d$sw <- weights(d, "")
K <- max(d$period) + 1
km <- function(a) {
  u <- d[adherent(d, a) & d$C == 0, ]
  fit <- survfit(Surv(period, period + 1, Y) ~ 1, weights = sw, data = u)
  1 - summary(fit, times = 1:K, extend = TRUE)$surv
}
# ------------------------------------------------------------------ Cox MSM risk curves
d$sw_msm <- weights(d, "+ V")
u <- d[d$C == 0, ]
cox1 <- coxph(Surv(period, period + 1, Y) ~ A + V, weights = sw_msm, ties = "efron", data = u)
base <- d[d$period == 0, c("id", "V")]
cox_risk <- function(a) {
  sf <- survfit(cox1, newdata = data.frame(A = a, V = base$V))
  s <- summary(sf, times = 1:K, extend = TRUE)$surv   # times x persons
  1 - rowMeans(s)
}
# time-varying MSM term (cum_A): one (start, stop] curve per person, survfit(..., id = )
cox2 <- coxph(Surv(period, period + 1, Y) ~ A + cum_A + V, weights = sw_msm, ties = "efron",
              data = u)
cox_risk_tv <- function(a) {
  nd <- base[rep(seq_len(nrow(base)), each = K), ]
  nd$period <- rep(0:(K - 1), nrow(base))
  nd$A <- a; nd$cum_A <- a * (nd$period + 1); nd$Y <- 0
  sf <- survfit(cox2, newdata = nd, id = id)
  s <- summary(sf, times = 1:K, extend = TRUE)
  1 - tapply(s$surv, s$time, mean)
}
# ------------------------------------------------------------------ weighted AJ (competing)
dc <- prep("data_competing.csv")
dc$sw <- weights(dc, "")
Kc <- max(dc$period) + 1
# The Aalen-Johansen CIF of Y from survfit's weighted counts: S(t-) (all-cause weighted KM)
# times the weighted cause-specific hazard increment dY / Y_risk. (The multi-state
# survfit(Surv(period, period + 1, factor(ev)) ~ 1, weights = sw, id = id) gives other numbers
# when a person's weight changes between rows: "multistate" below, for the record; with
# weights constant within id it equals this computation.)
aj <- function(a) {
  u <- dc[adherent(dc, a) & dc$C == 0, ]
  u$Y[u$D == 1] <- 0
  all <- survfit(Surv(period, period + 1, Y == 1 | D == 1) ~ 1, weights = sw, data = u)
  fy <- survfit(Surv(period, period + 1, Y == 1) ~ 1, weights = sw, data = u)
  s_all <- summary(all, times = 1:Kc, extend = TRUE)$surv
  sy <- summary(fy, times = 1:Kc, extend = TRUE)
  cumsum(c(1, head(s_all, -1)) * sy$n.event / sy$n.risk)
}
aj_multistate <- function(a) {
  u <- dc[adherent(dc, a) & dc$C == 0, ]
  u$ev <- factor(ifelse(u$D == 1, "D", ifelse(u$Y == 1, "Y", "censor")),
                 levels = c("censor", "Y", "D"))
  fit <- survfit(Surv(period, period + 1, ev) ~ 1, weights = sw, id = id, data = u)
  s <- summary(fit, times = 1:Kc, extend = TRUE)
  unname(s$pstate[, which(fit$states == "Y")])
}
out <- list(
  r_version = R.version.string,
  survival = as.character(packageVersion("survival")),
  km = list(always = km(1), never = km(0)),
  cox = list(terms = names(coef(cox1)), coef = unname(coef(cox1)),
             always = cox_risk(1), never = cox_risk(0)),
  cox_cum = list(terms = names(coef(cox2)), coef = unname(coef(cox2)),
                 always = unname(cox_risk_tv(1)), never = unname(cox_risk_tv(0))),
  aj = list(always = aj(1), never = aj(0)),
  aj_multistate = list(always = aj_multistate(1), never = aj_multistate(0))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(dir, "expected_curves.json"))
cat("wrote", file.path(dir, "expected_curves.json"), "\n")
