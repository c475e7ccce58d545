use super::*;
use crate::cli::Cli;

/// The report options of `infracheck run ARGS`.
fn report_args(args: &[&str]) -> ReportArgs {
    let mut all = vec!["infracheck", "run", "--env", "t"];
    all.extend_from_slice(args);
    match Cli::try_parse_args(all).unwrap().command {
        Some(crate::cli::Command::Run(a)) => a.report,
        _ => unreachable!("a run"),
    }
}

fn check(args: &[&str]) -> Result<(), String> {
    check_report_paths(&report_args(args), None, &|_| None)
}

#[test]
fn every_file_format_of_the_table_has_its_flag_and_is_written_in_order() {
    let args: Vec<String> = crate::report::formats::file_formats()
        .flat_map(|f| [f.flag(), format!("out/{}.x", f.name)])
        .collect();
    // Given in reverse order, written in the table's.
    let mut pairs: Vec<&[String]> = args.chunks(2).collect();
    pairs.reverse();
    let reversed = pairs.concat();
    let given: Vec<&str> = reversed.iter().map(String::as_str).collect();
    let a = report_args(&given);
    let names: Vec<&str> = a.files.iter().map(|(f, _)| f.name).collect();
    assert_eq!(names, crate::report::formats::FILE_FORMAT_ORDER);
    let outputs = report_outputs(&a, false, &|_| None);
    let destinations: Vec<String> = outputs.iter().map(|o| o.destination.to_string()).collect();
    assert_eq!(destinations[0], "stdout");
    assert_eq!(
        destinations[1..],
        names
            .iter()
            .map(|n| format!("out/{n}.x"))
            .collect::<Vec<_>>()
    );
    assert_eq!(check(&given), Ok(()));
}

#[test]
fn every_output_value_of_the_table_is_accepted_and_renders_on_stdout() {
    for f in crate::report::formats::FORMATS {
        let a = report_args(&["--output", f.name]);
        assert_eq!(a.output, Some(f));
        let outputs = report_outputs(&a, false, &|_| None);
        assert_eq!(outputs.len(), 1);
        assert_eq!(
            outputs[0].reporter.describe(),
            (f.reporter)(&Settings::default()).describe()
        );
    }
}

#[test]
fn two_documents_on_one_stream_are_refused_for_every_format_alike() {
    for f in crate::report::formats::file_formats() {
        let flag = f.flag();
        // `--output F` and `--F -`: one rule for every document format, JSON included.
        assert_eq!(
            check(&["--output", f.name, &flag, "-"]),
            Err(format!(
                "--output {} and {flag} both write to stdout: give each report its own file",
                f.name
            ))
        );
        // The text report is no document: it shares stdout with one…
        assert_eq!(check(&[&flag, "/dev/stdout"]), Ok(()));
        // …but `-` asks for stdout's report, which `--output text` already is.
        assert_eq!(
            check(&["--output", "text", &flag, "-"]),
            Err(format!(
                "--output text and {flag} - both write to stdout: give one of them a file"
            ))
        );
    }
    assert_eq!(
        check(&["--sarif", "/dev/stderr", "--html", "/proc/self/fd/2"]),
        Err("--sarif and --html both write to stderr: give each report its own file".to_owned())
    );
}

#[test]
fn only_the_format_that_rolls_the_baseline_may_name_it() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    let base = base.to_str().unwrap();
    assert_eq!(check(&["--baseline", base, "--json", base]), Ok(()));
    assert_eq!(
        check(&["--baseline", base, "--sarif", base]),
        Err(format!(
            "--sarif and --baseline both name {base}: the report would replace it; give the report its own file"
        ))
    );
    assert_eq!(
        check(&["--json", base, "--tap", base]),
        Err(format!(
            "--json and --tap both write {base}: give each report its own file"
        ))
    );
}
