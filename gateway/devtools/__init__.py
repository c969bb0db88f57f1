"""Development aids kept out of the runtime package's top level: the demo of two real nodes
and the fictional sample data that the demo, the tests and the benchmarks share."""
