//! The hedge budget: at most a fraction of requests send a second, hedged attempt.

/// A token bucket: each request adds `fraction` of a token (up to a small burst),
/// each hedge spends one. So over any run, hedges ≤ `fraction` × requests + burst
/// left from quiet times, and a slow node cannot double the fleet's load.
#[derive(Debug, Clone)]
pub(crate) struct HedgeBudget {
    fraction: f64,
    tokens: f64,
    max_tokens: f64,
}

/// The most hedges saved up while no hedge was needed.
const BURST: f64 = 10.0;

impl HedgeBudget {
    /// A budget allowing `fraction` (0 to 1) of requests to hedge; starts empty.
    pub fn new(fraction: f64) -> HedgeBudget {
        HedgeBudget {
            fraction: fraction.clamp(0.0, 1.0),
            tokens: 0.0,
            max_tokens: BURST,
        }
    }

    /// Counts one request.
    pub fn on_request(&mut self) {
        self.tokens = (self.tokens + self.fraction).min(self.max_tokens);
    }

    /// Spends a token for a hedge; false when the budget is spent.
    pub fn try_hedge(&mut self) -> bool {
        // A little slack for the float sum of many small fractions.
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_the_fraction_of_requests_hedge() {
        let mut budget = HedgeBudget::new(0.05);
        let mut hedges = 0;
        for _ in 0..1000 {
            budget.on_request();
            if budget.try_hedge() {
                hedges += 1;
            }
        }
        assert_eq!(hedges, 50);
    }

    #[test]
    fn quiet_times_save_only_a_small_burst() {
        let mut budget = HedgeBudget::new(0.5);
        for _ in 0..1000 {
            budget.on_request();
        }
        let burst = std::iter::from_fn(|| budget.try_hedge().then_some(())).count();
        assert_eq!(burst, 10);
        assert!(!budget.try_hedge());
    }

    #[test]
    fn a_zero_budget_never_hedges() {
        let mut budget = HedgeBudget::new(0.0);
        for _ in 0..100 {
            budget.on_request();
            assert!(!budget.try_hedge());
        }
    }
}
