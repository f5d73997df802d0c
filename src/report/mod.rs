//! `estune report`: SVG plots of a set of runs and a self-contained
//! `index.html` holding them with the comparison, the check verdicts and
//! the settings diff. Plots are pure functions of the results ([`plots`]);
//! writing the folder is the only I/O.

pub mod plots;
pub mod runs;
