"""The simulation engine: epochs and quanta (`coordinator`, `quantum`, `scheduler`), the event
queue and the operation handlers (`events`, `dispatch`), the progress watchdog, the final drain and
what a finished simulation reports (`results`). It drives the kernel's VM objects in `smpsim.vm`;
nothing there imports it."""
