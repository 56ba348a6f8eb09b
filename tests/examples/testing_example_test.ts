// examples/testing_test.ts is a node:test file as an application writes it:
// importing it here runs its tests in sprig's suite, on every runtime.
import "../../examples/testing_test.ts";
