//! The client half of SCAFFOLD (Karimireddy et al. 2020): the client's
//! control variate `c_i`, the correction `c - c_i` it trains with, and the
//! control delta it sends back (option II of the paper).
//!
//! After `K` local steps at learning rate `η` from the global model `x` to
//! the local model `y`, option II sets
//! `c_i+ = c_i - c + (x - y) / (K * η)`, and the client sends
//! `c_i+ - c_i = -c - delta / (K * η)` with `delta = y - x`. The control
//! variate lives as long as the session and is kept per run, so it
//! survives reconnects of the same client within a run.

/// A client's SCAFFOLD state across the rounds of one run.
#[derive(Debug, Default)]
pub struct ControlVariate {
    run_id: String,
    /// `c_i`; `None` until the first round, meaning zeros.
    own: Option<Vec<f32>>,
    /// The server's `c` of the round being trained.
    pending: Option<Pending>,
}

#[derive(Debug)]
struct Pending {
    round: u32,
    server: Vec<f32>,
    learning_rate: f64,
}

impl ControlVariate {
    /// Starts a round of `run_id` with the server's control variate and
    /// returns the correction `c - c_i` to train with.
    pub fn begin(
        &mut self,
        run_id: &str,
        round: u32,
        server: Vec<f32>,
        learning_rate: f64,
    ) -> Vec<f32> {
        if self.run_id != run_id {
            self.run_id = run_id.to_owned();
            self.own = None;
        }
        let correction = match &self.own {
            Some(own) if own.len() == server.len() => {
                server.iter().zip(own).map(|(c, ci)| c - ci).collect()
            }
            _ => server.clone(),
        };
        self.pending = Some(Pending {
            round,
            server,
            learning_rate,
        });
        correction
    }

    /// Ends the round started by [`begin`](Self::begin). Updates `c_i` from
    /// the local `delta` after `local_steps` steps and returns the control
    /// delta to send, or `None` when no round of that number is pending.
    /// A client that took no step keeps `c_i` and sends zeros.
    pub fn finish(&mut self, round: u32, delta: &[f32], local_steps: u32) -> Option<Vec<f32>> {
        let pending = self.pending.take_if(|pending| pending.round == round)?;
        let own = self
            .own
            .take()
            .filter(|own| own.len() == delta.len())
            .unwrap_or_else(|| vec![0.0; delta.len()]);
        let scale = f64::from(local_steps) * pending.learning_rate;
        let change: Vec<f32> = if local_steps == 0 || scale == 0.0 {
            vec![0.0; delta.len()]
        } else {
            let inverse = (1.0 / scale) as f32;
            pending
                .server
                .iter()
                .zip(delta)
                .map(|(&c, &d)| -c - d * inverse)
                .collect()
        };
        self.own = Some(own.iter().zip(&change).map(|(ci, dc)| ci + dc).collect());
        Some(change)
    }

    /// Returns the current `c_i`, once a round has finished.
    pub fn own(&self) -> Option<&[f32]> {
        self.own.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_two_matches_hand_calculation() {
        let mut control = ControlVariate::default();
        // Round 1: c = [1, 0], c_i = 0, so the correction is c itself.
        let correction = control.begin("run", 1, vec![1.0, 0.0], 0.5);
        assert_eq!(correction, vec![1.0, 0.0]);
        // 2 steps at lr 0.5, delta [-2, 1]: c_i+ = 0 - c + (x - y) / (K lr)
        // = -[1, 0] + [2, -1] / 1 = [1, -1]; the delta equals c_i+.
        let change = control.finish(1, &[-2.0, 1.0], 2).unwrap();
        assert_eq!(change, vec![1.0, -1.0]);
        assert_eq!(control.own(), Some(&[1.0, -1.0][..]));
        // Round 2: c = [2, 2]; correction c - c_i = [1, 3].
        let correction = control.begin("run", 2, vec![2.0, 2.0], 0.5);
        assert_eq!(correction, vec![1.0, 3.0]);
        // 1 step at lr 0.5, delta [0, -1]: c_i+ = c_i - c + [0, 1] / 0.5
        // = [1, -1] - [2, 2] + [0, 2] = [-1, -1]; change = [-2, 0].
        let change = control.finish(2, &[0.0, -1.0], 1).unwrap();
        assert_eq!(change, vec![-2.0, 0.0]);
        assert_eq!(control.own(), Some(&[-1.0, -1.0][..]));
    }

    #[test]
    fn control_resets_for_new_run() {
        let mut control = ControlVariate::default();
        control.begin("a", 1, vec![1.0], 1.0);
        control.finish(1, &[-1.0], 1).unwrap();
        assert_eq!(control.own(), Some(&[0.0][..]));
        control.begin("a", 2, vec![3.0], 1.0);
        control.finish(2, &[-1.0], 1).unwrap();
        assert_eq!(control.own(), Some(&[-2.0][..]));
        let correction = control.begin("b", 1, vec![3.0], 1.0);
        assert_eq!(correction, vec![3.0]);
    }

    #[test]
    fn control_keeps_variate_without_steps() {
        let mut control = ControlVariate::default();
        control.begin("run", 4, vec![1.0, 1.0], 0.1);
        assert_eq!(control.finish(3, &[0.0, 0.0], 1), None);
        control.begin("run", 4, vec![1.0, 1.0], 0.1);
        assert_eq!(control.finish(4, &[0.0, 0.0], 0), Some(vec![0.0, 0.0]));
        assert_eq!(control.own(), Some(&[0.0, 0.0][..]));
    }
}
