# Dose-response curves of a continuous exposure on NHEFS (What If Program 12.4 and extensions).
# Writes tests/reference/dose_response.json. Run from the repository root:
#   Rscript tests/reference/r/dose_response.R
# Data: the bundled src/cohortlab/datasets/data/nhefs.csv (What If's nhefs file), restricted as in
# Program 12.4 to the uncensored (wt82 observed) with baseline smokeintensity <= 25 (n = 1162).
# Exposure A = smkintensity82_71 (change in cigarettes/day 1971-82).
#
# 1. GPS-weighted MSM (Program 12.4): denominator lm(A ~ L), numerator lm(A ~ 1), stabilised
#    weights dnorm(A, fitted, sigma) ratio with sigma = summary(lm)$sigma; MSM
#    geeglm(wt82_71 ~ A + I(A^2), id = seqn, independence) -- robust (sandwich) SE treating the
#    weights as known, which equals lm(weights = sw) + sandwich::vcovHC(type = "HC0").
#    Dose-response E[Y(a)] = MSM prediction; SE by the delta method on the robust vcov.
# 2. The same with a natural cubic spline MSM ns(A, 3) and a logistic MSM for death.
# 3. Parametric g-formula: outcome model on ns(A, 3) + L (lm for wt82_71, logistic glm for death),
#    standardised over the 1162 at each grid value; influence-function SE by hand from
#    sandwich::estfun and sandwich::bread (chain rule through the coefficients plus the sample
#    mean): phi_i(a) = Q_i(a) - mu(a) + D(a)' IF_beta_i, SE = sqrt(sum phi^2) / n.
#    Also with ns(A, 3) x smokeintensity product terms (effect modification).
# 4. Linear dose term: the slope (per unit and per SD) equals the outcome-model coefficient.
suppressPackageStartupMessages({
  library(geepack)
  library(sandwich)
  library(splines)
  library(jsonlite)
})

nhefs <- read.csv("src/cohortlab/datasets/data/nhefs.csv")
d <- subset(nhefs, !is.na(wt82) & smokeintensity <= 25)
d$A <- d$smkintensity82_71
n <- nrow(d)
L <- paste("as.factor(sex) + as.factor(race) + age + I(age^2) + as.factor(education)",
           "+ smokeintensity + I(smokeintensity^2) + smokeyrs + I(smokeyrs^2)",
           "+ as.factor(exercise) + as.factor(active) + wt71 + I(wt71^2)")
grid <- seq(-20, 20, by = 5)
ref <- 0

# ------------------------------------------------------------------ 1. GPS weights (Program 12.4)
den <- lm(as.formula(paste("A ~", L)), data = d)
dens_den <- dnorm(d$A, predict(den), summary(den)$sigma)
num <- lm(A ~ 1, data = d)
dens_num <- dnorm(d$A, predict(num), summary(num)$sigma)
d$sw <- dens_num / dens_den

msm_curve <- function(fit, V, basis, family = "gaussian") {
  B <- basis(grid)
  Br <- basis(ref)
  eta <- drop(B %*% coef(fit))
  eta_r <- drop(Br %*% coef(fit))
  if (family == "gaussian") {
    mu <- eta; mu_r <- eta_r
    G <- B; Gr <- Br
  } else {
    mu <- plogis(eta); mu_r <- plogis(eta_r)
    G <- B * (mu * (1 - mu)); Gr <- Br * (mu_r * (1 - mu_r))
  }
  se_mu <- sqrt(rowSums((G %*% V) * G))
  Cd <- sweep(G, 2, drop(Gr))                           # d(mu - mu_r)/d beta
  se_diff <- sqrt(rowSums((Cd %*% V) * Cd))
  out <- list(mean = mu, se_mean = se_mu, mean_ref = mu_r,
              se_mean_ref = sqrt(drop(Gr %*% V %*% t(Gr))),
              diff = mu - mu_r, se_diff = se_diff)
  if (family != "gaussian") {
    Cr <- G / mu - matrix(Gr / mu_r, nrow(G), ncol(G), byrow = TRUE)  # d log(mu/mu_r)/d beta
    out$log_ratio <- log(mu / mu_r)
    out$se_log_ratio <- sqrt(rowSums((Cr %*% V) * Cr))
  }
  out
}
coef_table <- function(fit, V) {
  se <- sqrt(diag(V))
  z <- qnorm(0.975)
  list(term = names(coef(fit)), estimate = unname(coef(fit)), std_error = unname(se),
       conf_low = unname(coef(fit) - z * se), conf_high = unname(coef(fit) + z * se))
}

quad <- function(a) cbind(1, a, a^2)
msm_q <- geeglm(wt82_71 ~ A + I(A * A), data = d, std = "san.se", weights = sw, id = seqn,
                corstr = "independence")
V_gee <- vcov(msm_q)
lm_q <- lm(wt82_71 ~ A + I(A * A), data = d, weights = sw)
V_hc0 <- vcovHC(lm_q, type = "HC0")
ipw_quad <- msm_curve(msm_q, V_gee, quad)
ipw_quad$coefficients <- coef_table(msm_q, V_gee)
ipw_quad$max_abs_diff_geeglm_vs_hc0_vcov <- max(abs(V_gee - V_hc0))
# What If's +20 vs 0 statement
i20 <- which(grid == 20)

ns_knots <- ns(d$A, df = 3)
nsb <- function(a) cbind(1, predict(ns_knots, a))
msm_ns <- lm(wt82_71 ~ ns(A, df = 3), data = d, weights = sw)
ipw_ns <- msm_curve(msm_ns, vcovHC(msm_ns, type = "HC0"), nsb)

msm_death <- suppressWarnings(geeglm(death ~ A + I(A * A), family = binomial(), data = d, std = "san.se",
                    weights = sw, id = seqn, corstr = "independence"))  # non-integer weights warn
glm_death <- suppressWarnings(glm(death ~ A + I(A * A), family = binomial(), data = d,
                                  weights = sw))  # non-integer weights warn
ipw_death <- msm_curve(msm_death, vcov(msm_death), quad, family = "binomial")
ipw_death$coefficients <- coef_table(msm_death, vcov(msm_death))
ipw_death$max_abs_diff_geeglm_vs_hc0_vcov <- max(abs(vcov(msm_death) -
                                                     vcovHC(glm_death, type = "HC0")))

# ------------------------------------------------------------------ 3. g-formula
gform <- function(fit, binary) {
  X <- model.matrix(fit)
  ifb <- estfun(fit) %*% bread(fit)  # IF_beta_i: beta_hat - beta ~ mean_i IF_beta_i
  one <- function(a) {
    nd <- d; nd$A <- a
    q <- predict(fit, newdata = nd, type = "response")
    Xa <- model.matrix(delete.response(terms(fit)), model.frame(delete.response(terms(fit)),
                       nd, xlev = fit$xlevels))
    dq <- if (binary) q * (1 - q) else rep(1, n)
    D <- colMeans(Xa * dq)
    list(mu = mean(q), phi = (q - mean(q)) + drop(ifb %*% D))
  }
  g <- lapply(grid, one)
  r <- one(ref)
  mu <- sapply(g, `[[`, "mu")
  phi <- sapply(g, `[[`, "phi")
  se <- function(p) sqrt(sum(p^2)) / n
  out <- list(mean = mu, se_mean = apply(phi, 2, se), mean_ref = r$mu, se_mean_ref = se(r$phi),
              diff = mu - r$mu, se_diff = apply(phi - r$phi, 2, se))
  if (binary) {
    pr <- sweep(phi, 2, mu, "/") - r$phi / r$mu
    out$log_ratio <- log(mu / r$mu)
    out$se_log_ratio <- apply(pr, 2, se)
  }
  out
}
out_ns <- lm(as.formula(paste("wt82_71 ~ ns(A, df = 3) +", L)), data = d)
gf_ns <- gform(out_ns, FALSE)
# independent check of the contrast SE: the sample-mean part cancels for a linear model
# without exposure interactions, so SE(mu(a) - mu(ref)) = sqrt(c' V_HC0 c), c = ns(a) - ns(ref)
Bd <- predict(ns_knots, grid) - matrix(predict(ns_knots, ref), length(grid), 3, byrow = TRUE)
Vns <- vcovHC(out_ns, type = "HC0")[2:4, 2:4]
gf_ns$se_diff_hc0_check <- sqrt(rowSums((Bd %*% Vns) * Bd))

# tight convergence: bread() uses the information at glm's last IRLS weights (default
# epsilon = 1e-8 leaves ~1e-5 relative error in the SEs)
out_death <- glm(as.formula(paste("death ~ ns(A, df = 3) +", L)), family = binomial(), data = d,
                 control = glm.control(epsilon = 1e-14, maxit = 100))
gf_death <- gform(out_death, TRUE)

# exposure x covariate interaction (effect modification by baseline intensity)
out_int <- lm(as.formula(paste("wt82_71 ~ ns(A, df = 3) * smokeintensity +", L)), data = d)
gf_int <- gform(out_int, FALSE)
out_int_death <- glm(as.formula(paste("death ~ ns(A, df = 3) * smokeintensity +", L)),
                     family = binomial(), data = d,
                     control = glm.control(epsilon = 1e-14, maxit = 100))
gf_int_death <- gform(out_int_death, TRUE)

# ------------------------------------------------------------------ 4. linear dose term: slope
out_lin <- lm(as.formula(paste("wt82_71 ~ A +", L)), data = d)
gf_lin <- gform(out_lin, FALSE)
V_lin <- vcovHC(out_lin, type = "HC0")
sd_A <- sd(d$A)
slope <- list(per_unit = unname(coef(out_lin)["A"]), se_per_unit = sqrt(V_lin["A", "A"]),
              sd_A = sd_A, per_sd = unname(coef(out_lin)["A"]) * sd_A,
              se_per_sd = sqrt(V_lin["A", "A"]) * sd_A)

ws <- d$sw
res <- list(
  id = "dose_response",
  dataset = "NHEFS (What If), src/cohortlab/datasets/data/nhefs.csv",
  data = list(
    restriction = "!is.na(wt82) & smokeintensity <= 25",
    n = n,
    exposure = "A = smkintensity82_71",
    exposure_summary = list(mean = mean(d$A), sd = sd_A, min = min(d$A), max = max(d$A),
                            q05 = unname(quantile(d$A, 0.05)), median = median(d$A),
                            q95 = unname(quantile(d$A, 0.95))),
    ns_interior_knots = unname(attr(ns_knots, "knots")),
    ns_boundary_knots = unname(attr(ns_knots, "Boundary.knots"))
  ),
  specification = list(
    L = L,
    gps = "denominator lm(A ~ L), numerator lm(A ~ 1); sw = dnorm(A, fit_num, sigma_num) / dnorm(A, fit_den, sigma_den); sigma = summary(lm)$sigma (residual SE, n - p)",
    ipw_quadratic = "geeglm(wt82_71 ~ A + I(A*A), weights = sw, id = seqn, corstr = 'independence', std = 'san.se')",
    ipw_ns = "lm(wt82_71 ~ ns(A, df = 3), weights = sw) + vcovHC(type = 'HC0') (= geeglm)",
    ipw_death_quadratic = "geeglm(death ~ A + I(A*A), binomial, weights = sw, id = seqn)",
    gformula_ns = "lm(wt82_71 ~ ns(A, df = 3) + L); standardised over the 1162; IF SE by hand",
    gformula_death_ns = "glm(death ~ ns(A, df = 3) + L, binomial); standardised; IF SE by hand",
    gformula_linear = "lm(wt82_71 ~ A + L); slope = coefficient of A, HC0 SE; per SD = x sd(A)",
    gformula_ns_x_smokeintensity = "lm(wt82_71 ~ ns(A, df = 3) * smokeintensity + L); standardised; IF SE by hand",
    gformula_death_ns_x_smokeintensity = "glm(death ~ ns(A, df = 3) * smokeintensity + L, binomial); standardised; IF SE by hand",
    grid = grid, reference = ref,
    dose_response_se = "delta method on the MSM's robust vcov (IPW); influence function sqrt(sum phi^2)/n (g-formula)"
  ),
  estimates = list(
    weights = list(mean = mean(ws), sd = sd(ws), min = min(ws), max = max(ws),
                   q01 = unname(quantile(ws, 0.01)), q99 = unname(quantile(ws, 0.99)),
                   sigma_den = summary(den)$sigma, sigma_num = summary(num)$sigma),
    ipw_quadratic = ipw_quad,
    ipw_ns = ipw_ns,
    ipw_death_quadratic = ipw_death,
    gformula_ns = gf_ns,
    gformula_death_ns = gf_death,
    gformula_linear = gf_lin,
    gformula_ns_x_smokeintensity = gf_int,
    gformula_death_ns_x_smokeintensity = gf_int_death,
    slope_linear = slope,
    published = list(
      text = "What If 12.4 (Program 12.4): E[Y] = 2.005 - 0.109 A + 0.003 A^2; intercept 2.005 (95% CI 1.4 to 2.6), i.e. E[Y(0)]; A -0.109 (-0.17 to -0.05); A^2 0.003 (-0.005 to 0.01) [book text: 'the mean weight gain would have been 2.0 kg (95% CI: 1.4, 2.6) if all had kept their intensity unchanged and 0.9 kg (95% CI: -1.7, 3.5) if all had increased it by 20 cigarettes/day']",
      E_Y0 = ipw_quad$mean_ref, E_Y20 = ipw_quad$mean[i20],
      E_Y20_ci = ipw_quad$mean[i20] + c(-1, 1) * qnorm(0.975) * ipw_quad$se_mean[i20]
    )
  ),
  source = paste0(R.version.string, "; geepack ", packageVersion("geepack"), ", sandwich ",
                  packageVersion("sandwich"), ", splines ", packageVersion("splines"),
                  ", jsonlite ", packageVersion("jsonlite")),
  tolerance = list(points = "abs 1e-6 (closed-form least squares / Newton to 1e-10)",
                   se = "rel 1e-5", weights = "abs 1e-8")
)
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/dose_response.json")
