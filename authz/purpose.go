package authz

// PurposesOfUse are the HL7 v3 ActReason PurposeOfUse codes accepted when
// Config.Purposes is nil: the general purposes (value set 2.16.840.1.113883.1.11.20449)
// and the emergency ones.
func PurposesOfUse() []string {
	return []string{
		"TREAT",    // treatment
		"ETREAT",   // emergency treatment
		"BTG",      // break the glass
		"HPAYMT",   // healthcare payment (billing)
		"HOPERAT",  // healthcare operations
		"HRESCH",   // healthcare research
		"PUBHLTH",  // public health
		"PATRQT",   // patient requested
		"COVERAGE", // coverage under policy or program
		"HMARKT",   // healthcare marketing
		"HDIRECT",  // directory
		"FAMRQT",   // family requested
		"PWATRNY",  // power of attorney
		"SUPNWK",   // support network
		"SYSADMN",  // system administration
		"LEGAL",    // legal
	}
}
