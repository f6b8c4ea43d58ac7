//! Stack component flavors of Weir: configuration types (with JSON Schemas), artifact
//! stores and orchestrator launchers. Empty in this version: the component model and
//! its flavors land with stacks, and their behaviour with the features that use them.
