//! Guest bindings generated from `wit/plugin.wit`.

wit_bindgen::generate!({
    path: "../wit",
    world: "plugin",
    pub_export_macro: true,
    export_macro_name: "__export_plugin_world",
    default_bindings_module: "hl7wasm_plugin_sdk::bindings",
});
