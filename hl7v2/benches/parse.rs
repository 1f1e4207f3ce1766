//! Parsing throughput: indexing segments and fields of a 1 KB ADT^A01 and a 20 KB
//! ORU^R01 (synthetic but shaped like real feeds), path access on a parsed message, and
//! what answering the ADT costs: reading its ACK context and composing an AA.
//!
//! Run: `cargo bench -p hl7v2 --bench parse -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hl7v2::Message;
use hl7v2::ack::{Ack, AckCode, AckContext};

/// A realistic ADT^A01 of about 1 KB.
fn adt_a01() -> String {
    [
        "MSH|^~\\&|EPIC|UCSF^2.16.840.1.113883.3.7^ISO|RHAPSODY|HIE^2.16.840.1.113883.3.9^ISO|20240305102030.1234-0800||ADT^A01^ADT_A01|MSG00001234567|P|2.5.1|||AL|NE||UNICODE UTF-8",
        "EVN|A01|20240305102030|||JSMITH^Smith^John^^^^^^UCSF&2.16.840.1.113883.3.7&ISO|20240305101500",
        "PID|1||123456789^^^UCSF^MR~987-65-4321^^^SSA^SS||O'BRIEN^MARY^ANNE^^MRS^^L~SMITH^MARY^^^^^M||19800101|F||2106-3^White^CDCREC|123 MAIN ST^APT 4B^SAN FRANCISCO^CA^94143^USA^H||(415)555-1234^PRN^PH^^1^415^5551234|(415)555-9876^WPN^PH|EN^English^ISO6392|M^Married^HL70002|CAT^Catholic^HL70006|ACC123456^^^UCSF^AN|||N^Not Hispanic^HL70189",
        "NK1|1|O'BRIEN^PATRICK^^^MR|SPO^Spouse^HL70063|123 MAIN ST^APT 4B^SAN FRANCISCO^CA^94143^USA|(415)555-1235",
        "PV1|1|I|4N^401^A^UCSF^^^^^4 North|E|||1234567890^WELBY^MARCUS^J^^DR^MD^^NPI^L|||MED||||7|||1234567890^WELBY^MARCUS^J^^DR^MD^^NPI^L|IP|VN0001234^^^UCSF^VN|||||||||||||||||||||||||20240305101500",
        "PV2|||^Chest pain|||||||||||||||||||N",
        "AL1|1|DA|70618^Penicillin^RXNORM|SV|Hives",
        "DG1|1||R07.9^Chest pain, unspecified^I10|||A",
        "IN1|1|BCBS001^Blue Cross PPO|12345^^^BCBS|Blue Cross Blue Shield|PO BOX 1000^^OAKLAND^CA^94601||(800)555-0000|GRP0001",
    ]
    .join("\r")
        + "\r"
}

/// A realistic ORU^R01 of about 20 KB: one panel with 70 OBX results and notes.
fn oru_r01() -> String {
    let mut segments = vec![
        "MSH|^~\\&|LAB^2.16.840.1.113883.3.7.1^ISO|UCSF LAB^05D0000000^CLIA|EHR|UCSF|20240305102030-0800||ORU^R01^ORU_R01|LAB000987654|P|2.5.1|||NE|NE|USA|UNICODE UTF-8".to_string(),
        "PID|1||123456789^^^UCSF^MR||DOE^JANE^Q||19700615|F|||500 PARNASSUS AVE^^SAN FRANCISCO^CA^94143||(415)555-1111".to_string(),
        "ORC|RE|ORD123456^EHR|FIL654321^LAB||CM||||20240305090000|||1234567890^WELBY^MARCUS^^^DR^MD^^NPI".to_string(),
        "OBR|1|ORD123456^EHR|FIL654321^LAB|24323-8^Comprehensive metabolic panel^LN|||20240305083000|||||||20240305084500|Blood^Blood|1234567890^WELBY^MARCUS^^^DR^MD||||||20240305101500|||F".to_string(),
    ];
    for i in 1..=70 {
        segments.push(format!(
            "OBX|{i}|NM|{code}-{check}^Analyte number {i} in Serum or Plasma^LN^ANL{i}^Analyte {i}^L||{value}.{frac}|mg/dL^milligram per deciliter^UCUM|{low}-{high}|N|||F|||20240305083000|05D0000000^UCSF LAB^CLIA|||||20240305101500||||UCSF Clinical Laboratories^^^^^CLIA&2.16.840.1.113883.4.7&ISO^XX^^^05D0000000",
            code = 2000 + i * 7,
            check = i % 10,
            value = 50 + i,
            frac = i % 10,
            low = 10 + i,
            high = 90 + i,
        ));
        if i % 10 == 0 {
            segments.push(format!(
                "NTE|{}|L|Result verified by repeat analysis\\.br\\Specimen slightly hemolyzed \\T\\ lipemic",
                i / 10
            ));
        }
    }
    segments.push("SPM|1|SPC123^EHR&2.16.840.1.113883.3.7&ISO||119297000^Blood specimen^SCT|||||||||||||20240305083000|20240305084500".to_string());
    segments.join("\r") + "\r"
}

fn parse(c: &mut Criterion) {
    for (name, text) in [("adt_a01_1kb", adt_a01()), ("oru_r01_20kb", oru_r01())] {
        let mut group = c.benchmark_group("parse");
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(format!("{name} ({} bytes)", text.len()), |b| {
            b.iter(|| Message::parse(black_box(text.as_bytes())).unwrap())
        });
        group.finish();
    }
}

fn access(c: &mut Criterion) {
    let adt = adt_a01();
    let adt = Message::parse(adt.as_bytes()).unwrap();
    c.bench_function("get PID-5.1 (adt)", |b| {
        b.iter(|| adt.get(black_box("PID-5.1")))
    });
    c.bench_function("get PID-3[2].1 (adt)", |b| {
        b.iter(|| adt.get(black_box("PID-3[2].1")))
    });
    let oru = oru_r01();
    let oru = Message::parse(oru.as_bytes()).unwrap();
    c.bench_function("get OBX[60]-5 (oru)", |b| {
        b.iter(|| oru.get(black_box("OBX[60]-5")))
    });
}

fn ack(c: &mut Criterion) {
    let adt = adt_a01();
    let adt = Message::parse(adt.as_bytes()).unwrap();
    c.bench_function("ack context (adt)", |b| {
        b.iter(|| AckContext::from_message(black_box(&adt)))
    });
    let context = AckContext::from_message(&adt);
    c.bench_function("ack build AA (adt)", |b| {
        b.iter(|| {
            Ack::build(
                black_box(&context),
                AckCode::AA,
                &[],
                "MX28GBBO-1F",
                "20261129192920+0000",
            )
        })
    });
}

criterion_group!(benches, parse, access, ack);
criterion_main!(benches);
