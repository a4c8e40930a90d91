/* A small LSTM network for one series: the point forecast of the lstm
 * model, whose bands and scenarios then come from the backtest errors as
 * for the other models (engine.c).
 *
 * Architecture: one LSTM layer of LSTM_CELLS cells and a linear head.
 * At step t the inputs are, in units of the series' standard deviation
 * over the training span, with the deviation of a value the value minus
 * its seasonal mean S(t) (the mean of the values one, two and three
 * periods back, those that exist):
 *   - the mean deviation over the last twelfth of a period (the level
 *     now, as Holt-Winters' level follows it) and over the last period,
 *   - S(t) minus the series' mean,
 *   - the value one week (7 periods) back, minus S(t) (0 with less history),
 *   - sin and cos of the phase of the day (the period) and of the week.
 * The head gives the deviation at t beyond the level (the first input);
 * the forecast is S(t) plus the level plus it. Beyond the origin the
 * level inputs are held at the origin's, and the seasonal lags that fall
 * after the origin are the network's forecasts; no other output of its
 * own is fed back (the last value as an input made a network trained on
 * true values drift). A network that learnt nothing forecasts a
 * three-period seasonal mean moved to the level of the last twelfth of a
 * period.
 *
 * Training: mean squared error of the head's one-step output (the true
 * values as inputs, the level inputs following them), truncated backpropagation through time over windows of
 * LSTM_BPTT steps whose state carries over from the window before, Adam
 * with the gradient's norm clipped, weights drawn from the seed. After
 * each epoch the network runs free over the period held out at the end of
 * the training span; the epoch with the smallest error there is kept, and
 * training stops after LSTM_PATIENCE epochs without a better one. Every
 * loop runs in a fixed order on one thread: the same series and seed give
 * the same weights, bit for bit, whatever the number of threads that
 * forecast other series beside it. */
#ifndef ADP_FORECAST_LSTM_H
#define ADP_FORECAST_LSTM_H

#include <stddef.h>
#include <stdint.h>

#define LSTM_CELLS 12
#define LSTM_INPUTS 8
#define LSTM_IN_LEVEL 0     /* the input the head's output adds to */
#define LSTM_ROW (LSTM_INPUTS + LSTM_CELLS + 1)      /* one gate row: inputs, state, bias */
#define LSTM_HEAD (4 * LSTM_CELLS * LSTM_ROW)        /* offset of the head's weights */
#define LSTM_NPARAMS (LSTM_HEAD + LSTM_CELLS + 1)
#define LSTM_SEASONS 3      /* periods averaged into the seasonal mean */
#define LSTM_WEEK 7         /* periods in a week */
#define LSTM_BPTT 64        /* steps per truncated backpropagation window */
#define LSTM_MAX_EPOCHS 24
#define LSTM_PATIENCE 4
#define LSTM_MAX_TRAIN 4096 /* training steps at most (the newest) */
/* Training span in periods at least: one whose values are only lags,
 * two to train on, one held out. */
#define LSTM_MIN_PERIODS 4

struct lstm {
	double w[LSTM_NPARAMS]; /* gates i, f, g, o: rows of LSTM_ROW; then the head */
	double mu, sd;          /* the training span's mean and standard deviation */
	size_t m;               /* the period, in steps */
	size_t phase0;          /* the step of the week (of LSTM_WEEK * m) of x[0] */
	size_t epochs;          /* the kept epoch, from 1 */
	double val_mse;         /* the kept epoch's mean squared error held out, in sd^2 */
};

/* A trained network over a history x (borrowed), with the state it
 * reaches at every step, so that forecasts from any origin cost only
 * their own steps. */
struct lstm_fit {
	struct lstm net;
	const double *x;
	size_t n;
	double *S;      /* owned: S[t], the seasonal mean at t (n values) */
	double *D;      /* owned: (x[t] - S[t]) / sd, NAN where x is */
	double *state;  /* owned: (n + 1) * 2 * LSTM_CELLS; h then c ready to forecast x[t] */
	double *pred;   /* owned: scratch of a forecast path */
	size_t npred;
};

/* Trains on x[0..ntrain-1] (the rest of x, up to n, is only read as
 * history for the states) with period m and phase phase0; ADP_EINPUT
 * when ntrain is under LSTM_MIN_PERIODS periods, ADP_ENOMEM. On success
 * f owns its buffers (lstm_fit_release); on failure f is left empty. */
int lstm_fit_init(struct lstm_fit *f, const double *x, size_t n, size_t ntrain, size_t m, size_t phase0,
		  uint64_t seed);

/* Room for forecasts of steps steps ahead (lead + H); ADP_ENOMEM. */
int lstm_fit_reserve(struct lstm_fit *f, size_t steps);

/* The forecast made at origin j (1 <= j <= n: x[0..j-1] known) of
 * x[j + lead .. j + lead + H - 1], into out; lead + H within what
 * lstm_fit_reserve made room for. */
void lstm_fit_path(struct lstm_fit *f, size_t j, size_t lead, size_t H, double *out);

/* NULL-safe. */
void lstm_fit_release(struct lstm_fit *f);

/* For the tests: the loss (half the mean squared error of the one-step
 * deviation, true values as inputs) over the targets t0..t1-1 of x
 * (m <= t0 < t1 <= n), from a zero state at t0, and its gradient with
 * respect to net->w by backpropagation through time over the whole span
 * into grad (LSTM_NPARAMS values). Uses net's mu, sd, m and phase0. */
int lstm_loss_grad(const struct lstm *net, const double *x, size_t n, size_t t0, size_t t1, double *loss,
		   double *grad);

/* Draws net's weights from seed (as training starts). */
void lstm_init_weights(struct lstm *net, uint64_t seed);

#endif
