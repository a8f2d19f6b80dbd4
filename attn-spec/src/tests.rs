use crate::*;

/// Every vocabulary's `ALL`, `NAMES`, `name` and `from_name` agree, and names are unique.
macro_rules! check_vocabulary {
    ($($t:ty),+) => {$(
        assert_eq!(<$t>::ALL.len(), <$t>::NAMES.len(), stringify!($t));
        for (i, v) in <$t>::ALL.iter().enumerate() {
            assert_eq!(v.name(), <$t>::NAMES[i]);
            assert_eq!(<$t>::from_name(v.name()), Some(*v));
            for w in &<$t>::ALL[i + 1..] {
                assert_ne!(v.name(), w.name(), stringify!($t));
            }
        }
        assert_eq!(<$t>::from_name(""), None);
    )+};
}

#[test]
fn names_round_trip() {
    check_vocabulary!(
        Arch,
        TaskKind,
        Activation,
        Norm,
        Positional,
        Scoring,
        Pooling,
        Cell,
        RnnAttention,
        DataSet
    );
}

#[test]
fn spellings_are_the_declarations() {
    assert_eq!(Activation::from_name("Gelu"), Some(Activation::Gelu));
    assert_eq!(Activation::from_name("gelu"), None, "exact spelling");
    assert_eq!(DataSet::BibleEnEs.name(), "bible-en-es");
    assert_eq!(
        DataSet::from_name("fashion-mnist"),
        Some(DataSet::FashionMnist)
    );
    assert_eq!(DataSet::from_name("cifar-10"), None);
    assert_eq!(Positional::None.name(), "None");
    extern crate std;
    assert_eq!(std::format!("{}", Pooling::Cls), "Cls");
}

#[test]
fn every_arch_serves_a_task() {
    for arch in Arch::ALL {
        assert!(!arch.tasks().is_empty(), "{arch}");
    }
    for kind in TaskKind::ALL {
        assert!(Arch::ALL.iter().any(|a| a.tasks().contains(kind)), "{kind}");
        assert!(!kind.fields().is_empty());
    }
}

#[test]
fn custom_activations_are_not_a_built_in_name() {
    assert_eq!(Activation::ALL.last(), Some(&Activation::Custom));
    assert_eq!(
        Activation::BUILT_IN_NAMES.len(),
        Activation::NAMES.len() - 1
    );
    assert!(!Activation::BUILT_IN_NAMES.contains(&"Custom"));
    assert!(Activation::BUILT_IN_NAMES.contains(&"Swiglu"));
    assert_eq!(Scoring::ALL.last(), Some(&Scoring::Custom));
    assert_eq!(Scoring::BUILT_IN_NAMES, &["Dot", "Scaled"]);
    assert_eq!(RnnAttention::ALL.last(), Some(&RnnAttention::Custom));
    assert_eq!(
        RnnAttention::BUILT_IN_NAMES,
        &["Additive", "General", "Dot"]
    );
}
