"""Normalization: pure functions that turn messy published values into the catalog's units.

Each rule module takes a raw value and returns a :class:`~.results.Normalized` (the value, a short
text saying which rule applied, and a problem when the value was not recognized):

- :mod:`.text` cleans free text (markup, entities, boilerplate, whitespace);
- :mod:`.amounts` turns "数千万元", "US$10M", "超亿元" into a CNY range;
- :mod:`.dates` reads absolute, Chinese and relative dates;
- :mod:`.places` maps place names to administrative division codes;
- :mod:`.industries` maps sectors to GB/T 4754-2017 divisions;
- :mod:`.rounds` maps financing rounds to the ``financing_round`` dictionary;
- :mod:`.names` builds the company-name matching key and checks credit codes;
- :mod:`.record` applies them to a whole raw record.

The editable parts (exchange rates, industry keywords, round aliases, spam words) come in a
:class:`~.rules.NormalizationRules`; only :func:`.rules.load_rules` touches the database.
The semantics are documented in ``docs/catalog-normalization.md``.
"""
