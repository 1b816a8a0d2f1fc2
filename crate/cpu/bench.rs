//! Speed measurement: placeholder until the engine works.
