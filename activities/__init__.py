"""Every side effect of a journey, as Temporal activities on classes built with their
dependencies (the money-transfer sample's style), so that tests can inject fakes.

The journey invokes them by reference to `activities.contracts` (send_email, send_sms,
place_call, hand_over, record_outcome); `activities.build` builds what the worker registers.
This package's own module stays empty so that importing the contracts (workflow code does)
does not import the providers' SDKs or the store.
"""
