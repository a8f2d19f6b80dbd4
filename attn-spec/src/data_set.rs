//! `#[data = ".."]` — the built-in data sets.

vocabulary! {
    /// A data set the runtime provides with no download: generated from a fixed seed or vendored
    /// in the repository. A declaration's `#[data = ".."]` names one; the runtime loads each by
    /// an exhaustive `match`, so a variant without a loader does not compile.
    pub enum DataSet {
        /// Human-readable dates to ISO dates (generated).
        Dates = "dates",
        /// Digit sequences to themselves (generated).
        Copy = "copy",
        /// Digit sequences to their reverse (generated).
        Reverse = "reverse",
        /// Digit sequences to their digits in ascending order (generated).
        Sort = "sort",
        /// 8×8 handwritten digits, 10 classes (vendored).
        Digits = "digits",
        /// Sentences labelled positive or negative (vendored).
        Sentiment = "sentiment",
        /// English to Spanish Bible verses (vendored).
        BibleEnEs = "bible-en-es",
        /// The English side of `bible-en-es` as running text, one verse per document, for
        /// language models (vendored).
        BibleEn = "bible-en",
        /// 28×28 greyscale images of clothing, 10 classes, with their published 10,000-image
        /// test split (Zalando's Fashion-MNIST, vendored).
        FashionMnist = "fashion-mnist",
    }
}
