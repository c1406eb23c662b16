//! Least privilege, checked on the built `.wasm`: every interface a
//! component imports must be declared by its world in `wit/worlds.wit`.

use std::collections::BTreeSet;

use wit_parser::{Resolve, WorldKey};

/// `wasi:cli/environment@0.2.12` → `wasi:cli/environment@0.2` (semver-compatible).
fn compatible(name: &str) -> String {
    match name.split_once('@') {
        Some((iface, version)) => {
            let mut parts = version.split('.');
            let (major, minor) = (parts.next().unwrap_or("0"), parts.next().unwrap_or("0"));
            if major == "0" {
                format!("{iface}@0.{minor}")
            } else {
                format!("{iface}@{major}")
            }
        }
        None => name.to_owned(),
    }
}

/// The interfaces a component imports (top level only, not its nested modules).
fn wasm_imports(bytes: &[u8]) -> BTreeSet<String> {
    let mut imports = BTreeSet::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.expect("a valid component") {
            wasmparser::Payload::ModuleSection { .. } | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    imports.insert(compatible(import.expect("an import").name.0));
                }
            }
            _ => {}
        }
    }
    imports
}

fn world_imports(resolve: &Resolve, pkg: wit_parser::PackageId, world: &str) -> BTreeSet<String> {
    let id = resolve
        .select_world(&[pkg], Some(world))
        .unwrap_or_else(|e| panic!("no world {world} in wit/worlds.wit: {e}"));
    resolve.worlds[id]
        .imports
        .keys()
        .filter_map(|key| match key {
            WorldKey::Interface(iface) => resolve.id_of(*iface).map(|n| compatible(&n)),
            WorldKey::Name(name) => Some(name.clone()),
        })
        .collect()
}

#[test]
fn every_component_imports_only_what_its_world_declares() {
    let root = streamia_testkit::workspace_root();
    let components: Vec<String> = std::fs::read_dir(root.join("components"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    streamia_testkit::build_components(&components.iter().map(String::as_str).collect::<Vec<_>>());
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_dir(root.join("wit")).expect("wit/ parses");
    assert!(!components.is_empty());
    for component in &components {
        let wasm = streamia_testkit::component_wasm(component);
        let imported = wasm_imports(&std::fs::read(&wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display())));
        let allowed = world_imports(&resolve, pkg, component);
        let extra: Vec<&String> = imported
            .iter()
            .filter(|i| i.contains(':') && !allowed.contains(*i))
            .collect();
        assert!(
            extra.is_empty(),
            "component {component} imports {extra:?}, which its world in wit/worlds.wit does not declare"
        );
        assert!(
            imported.iter().any(|i| i.starts_with("wasi:")),
            "{component}: no imports found; is this the component?"
        );
    }
}

#[test]
fn the_check_catches_an_undeclared_import() {
    let root = streamia_testkit::workspace_root();
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_dir(root.join("wit")).unwrap();
    streamia_testkit::build_components(&["users"]);
    // The users component uses SQLite, which the gateway's world does not grant.
    let users = wasm_imports(&std::fs::read(streamia_testkit::component_wasm("users")).unwrap());
    let gateway_world = world_imports(&resolve, pkg, "gateway");
    assert!(users.contains("fermyon:spin/sqlite@2"));
    assert!(!gateway_world.contains("fermyon:spin/sqlite@2"));
    assert_eq!(
        compatible("wasi:http/types@0.2.12"),
        compatible("wasi:http/types@0.2.6")
    );
}
