//! Server optimisers: how the round's mean update moves the global model.

/// Applies a round's combined update to the global model. Implementations
/// may keep state across rounds (momentum, moment estimates); that state is
/// part of what a checkpoint must persist.
pub trait ServerOptimizer: Send {
    /// Name used in logs and run metadata.
    fn name(&self) -> &'static str;

    /// Updates `global` in place from the round's mean update.
    fn apply(&mut self, global: &mut [f32], mean_update: &[f32]);
}

/// FedAvg's server step: `x <- x + lr * mean_update`, with `lr = 1`
/// reproducing McMahan et al. 2017 exactly.
#[derive(Clone, Copy, Debug)]
pub struct PlainAverage {
    /// Server learning rate.
    pub learning_rate: f32,
}

impl Default for PlainAverage {
    fn default() -> Self {
        Self { learning_rate: 1.0 }
    }
}

impl ServerOptimizer for PlainAverage {
    fn name(&self) -> &'static str {
        "fedavg"
    }

    fn apply(&mut self, global: &mut [f32], mean_update: &[f32]) {
        let lr = self.learning_rate;
        for (x, &d) in global.iter_mut().zip(mean_update) {
            *x += lr * d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_average_adds_the_update() {
        let mut global = [1.0, 2.0];
        PlainAverage::default().apply(&mut global, &[0.5, -2.0]);
        assert_eq!(global, [1.5, 0.0]);
    }

    #[test]
    fn server_learning_rate_scales_the_step() {
        let mut global = [1.0];
        PlainAverage { learning_rate: 0.5 }.apply(&mut global, &[2.0]);
        assert_eq!(global, [2.0]);
    }
}
