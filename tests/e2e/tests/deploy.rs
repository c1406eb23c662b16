//! deploy/spinkube/ as the API server would take it: both layouts rendered
//! and every manifest validated against the Kubernetes schemas and the
//! SpinApp and ScaledObject CRDs (strictly: no unknown field), and what no
//! schema checks — each component of spin.split.toml in exactly one split
//! SpinApp, variables, Secret and ConfigMap keys, autoscalers, the runtime
//! config — by scripts/validate-deploy.py. Its Python, with
//! kubernetes-validate, is STREAMIA_KUBE_PYTHON (scripts/setup.sh's
//! `ensure_kubernetes_validate`, which the test command runs).

use std::process::Command;

use streamia_testkit::workspace_root;

#[test]
fn every_manifest_validates_against_kubernetes_and_the_crds() {
    let python = std::env::var("STREAMIA_KUBE_PYTHON").unwrap_or_else(|_| {
        workspace_root()
            .join("target/tools/kube/bin/python")
            .display()
            .to_string()
    });
    let out = Command::new(&python)
        .arg(workspace_root().join("scripts/validate-deploy.py"))
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e} (scripts/setup.sh ensure_kubernetes_validate installs it)"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("split/app/gateway.yaml: ok"), "{stdout}");
}
